// Switchyard's one native boundary: the socket options Node has no API for.
//
//   originalDst(fd)                  getsockopt SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST
//   transparentListen(addr, port, backlog, ipv6Only, freebind)
//                                    a listening fd with IP_TRANSPARENT / IPV6_TRANSPARENT
//   transparentSocket(addr, port, mark)
//                                    an unconnected TCP fd bound to a (possibly non-local)
//                                    source address, for Node to connect()
//   setTransparent(fd)              IP(V6)_TRANSPARENT on an already listening socket
//   closeFd(fd)                      close an fd this module handed out that Node never took
//   relayStart / relayStop / relayCounts
//                                    tcp_proxy's splice(2) relay (relay.c)
//
// Everything else (which socket, which address family, turning errors into Node-style errors)
// lives in the TypeScript wrappers beside this folder (src/interception/*.ts); keep this file
// small. Written against node_api.h only (no node-addon-api), N-API version 8.
#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay.h"

// From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>; defined here because
// those kernel headers clash with glibc's <netinet/in.h>.
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif
#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif
#ifndef IP_FREEBIND
#define IP_FREEBIND 15
#endif
#ifndef SOL_IPV6
#define SOL_IPV6 41
#endif
#ifndef SOL_IP
#define SOL_IP 0
#endif

// Throws a JS Error carrying errno (negative, as Node's own errors do), syscall and option;
// the TS wrapper adds the errno name (code) and what needs what.
void throw_errno(napi_env env, int err, const char* syscall, const char* option) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s%s%s: %s", syscall, option ? " " : "", option ? option : "", strerror(err));
  napi_value message, error, v;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok) return;
  if (napi_create_error(env, NULL, message, &error) != napi_ok) return;
  if (napi_create_int32(env, -err, &v) == napi_ok) napi_set_named_property(env, error, "errno", v);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v) == napi_ok) napi_set_named_property(env, error, "syscall", v);
  if (option && napi_create_string_utf8(env, option, NAPI_AUTO_LENGTH, &v) == napi_ok) napi_set_named_property(env, error, "option", v);
  napi_throw(env, error);
}

static napi_value undefined_value(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < want) {
    napi_throw_type_error(env, NULL, "too few arguments");
    return 0;
  }
  return 1;
}

static int get_int(napi_env env, napi_value v, int32_t* out, const char* what) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a number", what);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

static int get_bool(napi_env env, napi_value v, bool* out, const char* what) {
  if (napi_get_value_bool(env, v, out) != napi_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a boolean", what);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

// Parses an IPv4 or IPv6 literal and a port into a sockaddr; 0 (and a TypeError) when invalid.
static int parse_addr(napi_env env, napi_value addr_v, int32_t port, struct sockaddr_storage* ss, socklen_t* len) {
  char text[INET6_ADDRSTRLEN + 1];
  size_t n = 0;
  if (napi_get_value_string_utf8(env, addr_v, text, sizeof text, &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "address must be a string");
    return 0;
  }
  if (port < 0 || port > 65535) {
    napi_throw_range_error(env, NULL, "port must be 0..65535");
    return 0;
  }
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in* in4 = (struct sockaddr_in*)ss;
  struct sockaddr_in6* in6 = (struct sockaddr_in6*)ss;
  if (inet_pton(AF_INET, text, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    *len = sizeof *in4;
    return 1;
  }
  if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    *len = sizeof *in6;
    return 1;
  }
  char msg[128];
  snprintf(msg, sizeof msg, "not an IP address literal: \"%s\"", text);
  napi_throw_type_error(env, NULL, msg);
  return 0;
}

// Builds { address, port, family } from a sockaddr_in / sockaddr_in6.
static napi_value make_address(napi_env env, const struct sockaddr_storage* ss) {
  char text[INET6_ADDRSTRLEN];
  int family;
  uint16_t port;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in* a = (const struct sockaddr_in*)ss;
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    family = 4;
    port = ntohs(a->sin_port);
  } else {
    const struct sockaddr_in6* a = (const struct sockaddr_in6*)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    family = 6;
    port = ntohs(a->sin6_port);
  }
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "address", v);
  napi_create_uint32(env, port, &v);
  napi_set_named_property(env, obj, "port", v);
  napi_create_uint32(env, (uint32_t)family, &v);
  napi_set_named_property(env, obj, "family", v);
  return obj;
}

static napi_value null_value(napi_env env) {
  napi_value n;
  napi_get_null(env, &n);
  return n;
}

// originalDst(fd) → { address, port, family } | null
//
// As Envoy's original_dst listener filter: SO_ORIGINAL_DST at SOL_IP for an IPv4 socket, and for
// an IPv4 client on a dual-stack AF_INET6 socket (its local address is v4-mapped);
// IP6T_SO_ORIGINAL_DST at SOL_IPV6 for IPv6. null when the connection was not redirected: no
// conntrack entry (ENOENT), conntrack not loaded (ENOPROTOOPT), not an IP socket, or the entry's
// original destination is the socket's own local address (conntrack tracks every connection once
// a NAT table exists, so a direct connection still has an entry). Throws only for an fd that is
// not a socket (a caller's bug).
static napi_value OriginalDst(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &fd, "fd")) return NULL;

  struct sockaddr_storage local;
  socklen_t llen = sizeof local;
  if (getsockname(fd, (struct sockaddr*)&local, &llen) != 0) {
    if (errno == EBADF || errno == ENOTSOCK) {
      throw_errno(env, errno, "getsockname", NULL);
      return NULL;
    }
    return null_value(env);
  }

  struct sockaddr_storage orig;
  socklen_t olen = sizeof orig;
  memset(&orig, 0, sizeof orig);
  if (local.ss_family == AF_INET) {
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &orig, &olen) != 0) return null_value(env);
    const struct sockaddr_in* l = (const struct sockaddr_in*)&local;
    const struct sockaddr_in* o = (const struct sockaddr_in*)&orig;
    if (o->sin_port == l->sin_port && o->sin_addr.s_addr == l->sin_addr.s_addr) return null_value(env);
    return make_address(env, &orig);
  }
  if (local.ss_family == AF_INET6) {
    const struct sockaddr_in6* l = (const struct sockaddr_in6*)&local;
    if (IN6_IS_ADDR_V4MAPPED(&l->sin6_addr)) {
      // An IPv4 client on a dual-stack socket: the conntrack entry is an IPv4 one.
      if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &orig, &olen) != 0) return null_value(env);
      const struct sockaddr_in* o = (const struct sockaddr_in*)&orig;
      if (orig.ss_family != AF_INET) return null_value(env);
      if (o->sin_port == l->sin6_port && memcmp(&o->sin_addr, &l->sin6_addr.s6_addr[12], 4) == 0) return null_value(env);
      return make_address(env, &orig);
    }
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &orig, &olen) != 0) return null_value(env);
    const struct sockaddr_in6* o = (const struct sockaddr_in6*)&orig;
    if (orig.ss_family != AF_INET6) return null_value(env);
    if (o->sin6_port == l->sin6_port && memcmp(&o->sin6_addr, &l->sin6_addr, sizeof o->sin6_addr) == 0) return null_value(env);
    return make_address(env, &orig);
  }
  return null_value(env);
}

static int set_int_opt(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value);
}

// Sets IP_TRANSPARENT (AF_INET) or IPV6_TRANSPARENT (AF_INET6): lets the socket accept
// connections for, and bind to, addresses that are not local. Needs CAP_NET_ADMIN (or
// CAP_NET_RAW on kernels >= 5.x); throws with the option's name on failure.
static int set_transparent(napi_env env, int fd, int family) {
  int rc = family == AF_INET ? set_int_opt(fd, SOL_IP, IP_TRANSPARENT, 1) : set_int_opt(fd, SOL_IPV6, IPV6_TRANSPARENT, 1);
  if (rc != 0) {
    throw_errno(env, errno, "setsockopt", family == AF_INET ? "IP_TRANSPARENT" : "IPV6_TRANSPARENT");
    return 0;
  }
  return 1;
}

static int open_socket(napi_env env, int family) {
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) throw_errno(env, errno, "socket", NULL);
  return fd;
}

static napi_value fd_value(napi_env env, int fd) {
  napi_value v;
  napi_create_int32(env, fd, &v);
  return v;
}

// transparentListen(address, port, backlog, ipv6Only, freebind) → fd
// A non-blocking, close-on-exec TCP socket with SO_REUSEADDR and IP(V6)_TRANSPARENT, bound and
// listening: hand it to net.Server#listen({ fd }).
static napi_value TransparentListen(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int32_t port, backlog;
  bool v6only, freebind;
  if (!get_args(env, info, 5, argv) || !get_int(env, argv[1], &port, "port") || !get_int(env, argv[2], &backlog, "backlog") ||
      !get_bool(env, argv[3], &v6only, "ipv6Only") || !get_bool(env, argv[4], &freebind, "freebind"))
    return NULL;
  struct sockaddr_storage ss;
  socklen_t len;
  if (!parse_addr(env, argv[0], port, &ss, &len)) return NULL;

  int fd = open_socket(env, ss.ss_family);
  if (fd < 0) return NULL;
  const char* failed = NULL;
  const char* option = NULL;
  if (set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1) != 0) {
    failed = "setsockopt";
    option = "SO_REUSEADDR";
  } else if (!set_transparent(env, fd, ss.ss_family)) {
    close(fd);
    return NULL;
  } else if (ss.ss_family == AF_INET6 && set_int_opt(fd, SOL_IPV6, IPV6_V6ONLY, v6only ? 1 : 0) != 0) {
    failed = "setsockopt";
    option = "IPV6_V6ONLY";
  } else if (freebind && set_int_opt(fd, SOL_IP, IP_FREEBIND, 1) != 0) {
    failed = "setsockopt";
    option = "IP_FREEBIND";
  } else if (bind(fd, (struct sockaddr*)&ss, len) != 0) {
    failed = "bind";
  } else if (listen(fd, backlog) != 0) {
    failed = "listen";
  }
  if (failed) {
    int err = errno;
    close(fd);
    throw_errno(env, err, failed, option);
    return NULL;
  }
  return fd_value(env, fd);
}

// transparentSocket(address, port, mark) → fd
// A non-blocking, close-on-exec TCP socket with IP(V6)_TRANSPARENT (and SO_MARK when mark != 0),
// bound to address:port (port 0: the kernel picks one), not yet connected: Node connects it.
static napi_value TransparentSocket(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t port, mark;
  if (!get_args(env, info, 3, argv) || !get_int(env, argv[1], &port, "port") || !get_int(env, argv[2], &mark, "mark")) return NULL;
  struct sockaddr_storage ss;
  socklen_t len;
  if (!parse_addr(env, argv[0], port, &ss, &len)) return NULL;

  int fd = open_socket(env, ss.ss_family);
  if (fd < 0) return NULL;
  if (!set_transparent(env, fd, ss.ss_family)) {
    close(fd);
    return NULL;
  }
  const char* failed = NULL;
  const char* option = NULL;
  // A fixed source port (Envoy's original_src bind_port) may still be in TIME_WAIT.
  if (port != 0 && set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1) != 0) {
    failed = "setsockopt";
    option = "SO_REUSEADDR";
  } else if (mark != 0 && set_int_opt(fd, SOL_SOCKET, SO_MARK, mark) != 0) {
    failed = "setsockopt";
    option = "SO_MARK";
  } else if (bind(fd, (struct sockaddr*)&ss, len) != 0) {
    failed = "bind";
  }
  if (failed) {
    int err = errno;
    close(fd);
    throw_errno(env, err, failed, option);
    return NULL;
  }
  return fd_value(env, fd);
}

// setTransparent(fd): sets IP(V6)_TRANSPARENT on an existing socket (a listening one: the kernel's
// TPROXY target looks the flag up per packet, so setting it after listen() is enough for a
// listener bound to a local address such as 0.0.0.0).
static napi_value SetTransparent(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &fd, "fd")) return NULL;
  struct sockaddr_storage local;
  socklen_t llen = sizeof local;
  if (getsockname(fd, (struct sockaddr*)&local, &llen) != 0) {
    throw_errno(env, errno, "getsockname", NULL);
    return NULL;
  }
  if (local.ss_family != AF_INET && local.ss_family != AF_INET6) {
    throw_errno(env, EAFNOSUPPORT, "setsockopt", "IP_TRANSPARENT");
    return NULL;
  }
  if (!set_transparent(env, fd, local.ss_family)) return NULL;
  return undefined_value(env);
}

static napi_value CloseFd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &fd, "fd")) return NULL;
  if (fd >= 0) close(fd);
  return undefined_value(env);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"originalDst", NULL, OriginalDst, NULL, NULL, NULL, napi_enumerable, NULL},
      {"transparentListen", NULL, TransparentListen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"transparentSocket", NULL, TransparentSocket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setTransparent", NULL, SetTransparent, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, CloseFd, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  relay_define(env, exports);
  return exports;
}
