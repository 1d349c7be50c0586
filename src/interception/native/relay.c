// The zero-copy TCP relay of tcp_proxy: bytes move socket → pipe → socket with splice(2), in
// the kernel, on the main thread's libuv loop; JavaScript sees only the start and the end.
//
//   relayStart(fdA, fdB, idleMs, onDone) → handle
//       dup()s both sockets and relays A → B and B → A until both directions have passed a FIN
//       on, one fails, or the idle timer fires; then calls onDone(errno, reason, counts) once.
//       Throws (dup, pipe2: EMFILE...) before touching anything: the caller keeps its sockets.
//   relayWriteFirst(handle, pendingAtoB, pendingBtoA)
//       Buffers (or null) already read in JS, written before anything the relay reads; in the
//       same tick as relayStart.
//   relayStop(handle) → counts          stops a running relay (no onDone) and frees its fds
//   relayCounts(handle) → counts        the bytes moved so far, while the relay runs (stats)
//   counts: [readA, writtenB, readB, writtenA] (bytes taken from A, given to B, from B, to A)
//   reason: 0 done (both FINs passed on), 1 error (errno says which), 2 idle timeout
//
// Why dup(): the fds stay owned by Node's (paused, readStop()ped) TCP handles; libuv watches
// each fd once, so the relay's uv_poll_t handles watch dups. Closing a dup never closes the
// socket while Node's fd is open, and the socket is only really closed when both are.
//
// Backpressure: a direction reads from its source only while its pipe is empty, and writes
// wait for POLLOUT on EAGAIN, so a slow reader stops the reads from the other side, with at
// most one pipe's worth in flight per direction (64 KiB; 1 MiB once it carries a bulk stream,
// see pipe_grow).
//
// Half-close: EOF on A (splice returns 0) once A → B's pipe is drained → shutdown(B, SHUT_WR);
// the other direction keeps flowing. Errors (ECONNRESET, EPIPE, ...) end the relay with reason
// 1; what to do with the sockets (flush, close, destroy) is the caller's.
//
// Idle timeout: one uv_timer_t per relay, re-armed lazily (activity stores the loop time; the
// timer, when it fires early, sleeps for the rest), so moving bytes costs no timer work.
//
// Pipes are kept on a small free list (empty ones only) to save two pipe2() per connection.
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay.h"

#define SPLICE_FLAGS (SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
// Bound the work of one wake-up per direction, so one busy connection cannot starve the loop.
#define PUMP_ROUNDS 8
#define PIPE_POOL_MAX 64
#define BIG_PIPE_SIZE (1 << 20)
#define BIG_PIPES_MAX 32

enum { REASON_DONE = 0, REASON_ERROR = 1, REASON_IDLE = 2 };

typedef struct {
  int fds[2];  // [read end, write end]
  int cap;     // F_GETPIPE_SZ
  bool big;    // grown to BIG_PIPE_SIZE
  bool grown;  // growing was tried
} pipe_pair;

// Per thread: each worker_thread that loads the addon has its own loop, pool and budget.
static __thread pipe_pair pipe_pool[PIPE_POOL_MAX];
static __thread int pipe_pool_len = 0;
static __thread int big_pipes = 0;

static int pipe_get(pipe_pair* p) {
  if (pipe_pool_len > 0) {
    *p = pipe_pool[--pipe_pool_len];
    return 0;
  }
  if (pipe2(p->fds, O_NONBLOCK | O_CLOEXEC) != 0) return -errno;
  int cap = fcntl(p->fds[1], F_GETPIPE_SZ);
  p->cap = cap > 0 ? cap : 65536;
  p->big = p->grown = false;
  return 0;
}

// A pipe that a splice filled to the brim carries a bulk stream: give it BIG_PIPE_SIZE, once.
// Fewer, larger splices per byte: in the interception bench (two sidecars on one core) this
// took one bulk stream from 0.5x to 0.85x of direct. Bounded: at most BIG_PIPES_MAX big pipes
// per thread (32 MiB of kernel memory), since an unprivileged user's pipe pages count against
// fs.pipe-user-pages-soft (64 MiB by default), past which new pipes get only two pages; when
// F_SETPIPE_SZ fails (that limit, or fs.pipe-max-size) the pipe keeps its size.
static void pipe_grow(pipe_pair* p) {
  p->grown = true;
  if (big_pipes >= BIG_PIPES_MAX) return;
  int cap = fcntl(p->fds[1], F_SETPIPE_SZ, BIG_PIPE_SIZE);
  if (cap <= p->cap) return;
  p->cap = cap;
  p->big = true;
  big_pipes++;
}

// An empty pipe goes back to the pool; one holding bytes (an aborted relay) is closed.
static void pipe_put(pipe_pair* p, bool empty) {
  if (p->fds[0] < 0) return;
  if (empty && pipe_pool_len < PIPE_POOL_MAX) {
    pipe_pool[pipe_pool_len++] = *p;
  } else {
    close(p->fds[0]);
    close(p->fds[1]);
    if (p->big) big_pipes--;
  }
  p->fds[0] = p->fds[1] = -1;
}

typedef struct relay relay;

typedef struct {
  int from, to;  // indexes into relay.fds
  pipe_pair pipe;
  size_t in_pipe;
  char* pending;  // bytes read in JS before the relay started, written first
  size_t pending_len, pending_off;
  bool eof;        // read EOF from `from`
  bool shut;       // shutdown(to, SHUT_WR) done
  bool want_read;  // waiting for `from` to be readable
  bool want_write; // waiting for `to` to be writable
  double read, written;
} direction;

struct relay {
  napi_env env;
  uv_loop_t* loop;
  int fds[2];  // dups of A and B
  uv_poll_t polls[2];
  int poll_events[2];
  uv_timer_t timer;
  uint64_t idle_ms;
  uint64_t last_activity;
  direction dirs[2];  // 0: A → B, 1: B → A
  napi_ref on_done;
  napi_async_context async;
  int open_handles;  // uv handles not yet closed
  bool stopped;      // fds closed, no more callbacks into JS
  bool js_gone;      // the JS handle was collected
};

static void relay_maybe_free(relay* r) {
  if (r->open_handles == 0 && r->js_gone) free(r);
}

static void on_handle_closed(uv_handle_t* h) {
  relay* r = (relay*)h->data;
  r->open_handles--;
  relay_maybe_free(r);
}

static void direction_free(direction* d) {
  free(d->pending);
  d->pending = NULL;
  pipe_put(&d->pipe, d->in_pipe == 0);
}

// Stops polling, closes the dups and releases the pipes; the struct lives until the uv handles
// have closed and the JS handle is gone.
static void relay_teardown(relay* r) {
  if (r->stopped) return;
  r->stopped = true;
  for (int i = 0; i < 2; i++) {
    uv_close((uv_handle_t*)&r->polls[i], on_handle_closed);  // stops and un-registers the fd first
    close(r->fds[i]);
    r->fds[i] = -1;
  }
  if (r->idle_ms > 0) uv_close((uv_handle_t*)&r->timer, on_handle_closed);
  direction_free(&r->dirs[0]);
  direction_free(&r->dirs[1]);
  if (r->on_done != NULL) {
    napi_delete_reference(r->env, r->on_done);
    r->on_done = NULL;
  }
  if (r->async != NULL) napi_async_destroy(r->env, r->async);
  r->async = NULL;
}

static napi_value counts_value(napi_env env, relay* r) {
  napi_value arr, v;
  napi_create_array_with_length(env, 4, &arr);
  double c[4] = {r->dirs[0].read, r->dirs[0].written, r->dirs[1].read, r->dirs[1].written};
  for (uint32_t i = 0; i < 4; i++) {
    napi_create_double(env, c[i], &v);
    napi_set_element(env, arr, i, v);
  }
  return arr;
}

// Ends the relay and tells JS: onDone(errno, reason, counts).
static void relay_finish(relay* r, int err, int reason) {
  if (r->stopped) return;
  napi_env env = r->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb = NULL, recv, argv[3];
  napi_get_reference_value(env, r->on_done, &cb);
  napi_get_global(env, &recv);  // napi_make_callback wants an object as `this`
  napi_create_int32(env, err, &argv[0]);
  napi_create_int32(env, reason, &argv[1]);
  argv[2] = counts_value(env, r);
  napi_async_context async = r->async;
  r->async = NULL;
  relay_teardown(r);
  // napi_make_callback runs the nextTick queue and microtasks afterwards, as libuv callbacks into
  // JS must; an exception thrown by onDone becomes an uncaught exception.
  if (cb != NULL) {
    napi_value result;
    if (napi_make_callback(env, async, recv, cb, 3, argv, &result) == napi_pending_exception) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
  }
  if (async != NULL) napi_async_destroy(env, async);
  napi_close_handle_scope(env, scope);
}

// Moves what it can in one direction without blocking. 0, or -errno on a failed socket.
static int direction_pump(relay* r, direction* d) {
  int from = r->fds[d->from], to = r->fds[d->to];
  for (int round = 0; round < PUMP_ROUNDS; round++) {
    bool progress = false;
    d->want_write = false;
    d->want_read = false;
    if (d->pending_off < d->pending_len) {
      ssize_t n = write(to, d->pending + d->pending_off, d->pending_len - d->pending_off);
      if (n > 0) {
        d->pending_off += (size_t)n;
        d->written += (double)n;
        progress = true;
        if (d->pending_off == d->pending_len) {
          free(d->pending);
          d->pending = NULL;
          d->pending_len = d->pending_off = 0;
        }
      } else if (errno == EAGAIN) {
        d->want_write = true;
        break;
      } else if (errno != EINTR) {
        return -errno;
      }
      continue;
    }
    if (d->in_pipe > 0) {
      ssize_t n = splice(d->pipe.fds[0], NULL, to, NULL, d->in_pipe, SPLICE_FLAGS);
      if (n > 0) {
        d->in_pipe -= (size_t)n;
        d->written += (double)n;
        progress = true;
      } else if (n < 0 && errno == EAGAIN) {
        d->want_write = true;
        break;  // the pipe stays full: no reads until `to` drains (backpressure)
      } else if (n < 0 && errno != EINTR) {
        return -errno;
      }
      if (d->in_pipe > 0) continue;
    }
    if (!d->eof) {
      ssize_t n = splice(from, NULL, d->pipe.fds[1], NULL, 1 << 20, SPLICE_FLAGS);
      if (n > 0) {
        d->in_pipe += (size_t)n;
        d->read += (double)n;
        progress = true;
        if (d->in_pipe >= (size_t)d->pipe.cap && !d->pipe.grown) pipe_grow(&d->pipe);
      } else if (n == 0) {
        d->eof = true;
      } else if (errno == EAGAIN) {
        d->want_read = true;
      } else if (errno != EINTR) {
        return -errno;
      }
    }
    if (!progress) break;
  }
  if (d->in_pipe > 0 || d->pending_len > 0) {
    // Out of rounds with bytes still in the pipe: come back when `to` can take them.
    d->want_write = true;
    d->want_read = false;
  } else if (d->eof && !d->shut) {
    d->shut = true;
    if (shutdown(to, SHUT_WR) != 0 && errno != ENOTCONN) return -errno;
  } else if (!d->eof && !d->want_read) {
    d->want_read = true;  // out of rounds while reading: wait for the next readable event
  }
  return 0;
}

static void poll_cb(uv_poll_t* h, int status, int events);

// Re-arms each fd's poll for what its two directions wait for.
static void relay_update_polls(relay* r) {
  for (int i = 0; i < 2; i++) {
    int ev = 0;
    for (int k = 0; k < 2; k++) {
      direction* d = &r->dirs[k];
      if (d->from == i && d->want_read) ev |= UV_READABLE;
      if (d->to == i && d->want_write) ev |= UV_WRITABLE;
    }
    if (ev == r->poll_events[i]) continue;
    r->poll_events[i] = ev;
    if (ev == 0) uv_poll_stop(&r->polls[i]);
    else uv_poll_start(&r->polls[i], ev, poll_cb);
  }
}

static void relay_run(relay* r, int which_fd, int events) {
  for (int k = 0; k < 2; k++) {
    direction* d = &r->dirs[k];
    bool go = which_fd < 0 || (d->from == which_fd && (events & UV_READABLE)) || (d->to == which_fd && (events & UV_WRITABLE));
    if (!go) continue;
    double before = d->read + d->written;
    int rc = direction_pump(r, d);
    if (rc != 0) {
      relay_finish(r, -rc, REASON_ERROR);
      return;
    }
    if (d->read + d->written != before) r->last_activity = uv_now(r->loop);
  }
  if (r->dirs[0].shut && r->dirs[1].shut) {
    relay_finish(r, 0, REASON_DONE);
    return;
  }
  relay_update_polls(r);
}

static void poll_cb(uv_poll_t* h, int status, int events) {
  relay* r = (relay*)h->data;
  if (r->stopped) return;
  int which = h == &r->polls[0] ? 0 : 1;
  if (status < 0) {
    // POLLERR: libuv has stopped this poll. The socket's pending error (an RST: ECONNRESET)
    // ends the relay; without one, both directions look for themselves and re-arm.
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(r->fds[which], SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
      relay_finish(r, err, REASON_ERROR);
      return;
    }
    r->poll_events[which] = 0;
    relay_run(r, -1, 0);
    return;
  }
  relay_run(r, which, events);
}

static void timer_cb(uv_timer_t* t) {
  relay* r = (relay*)t->data;
  if (r->stopped) return;
  uint64_t idle = uv_now(r->loop) - r->last_activity;
  if (idle >= r->idle_ms) {
    relay_finish(r, 0, REASON_IDLE);
    return;
  }
  uv_timer_start(&r->timer, timer_cb, r->idle_ms - idle, 0);
}

static void handle_finalize(napi_env env, void* data, void* hint) {
  relay* r = (relay*)data;
  r->js_gone = true;
  relay_maybe_free(r);
}

// Copies a Buffer argument (or null/undefined) into a malloc'ed block.
static int copy_pending(napi_env env, napi_value v, direction* d) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_null || t == napi_undefined) return 1;
  void* data;
  size_t len;
  if (napi_get_buffer_info(env, v, &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "pending bytes must be a Buffer or null");
    return 0;
  }
  if (len == 0) return 1;
  d->pending = malloc(len);
  if (d->pending == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return 0;
  }
  memcpy(d->pending, data, len);
  d->pending_len = len;
  return 1;
}

static void direction_init(direction* d, int from, int to) {
  memset(d, 0, sizeof *d);
  d->from = from;
  d->to = to;
  d->pipe.fds[0] = d->pipe.fds[1] = -1;
}

static napi_value RelayStart(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "too few arguments");
    return NULL;
  }
  int32_t fd_a, fd_b;
  int64_t idle;
  napi_valuetype cbt;
  napi_typeof(env, argv[3], &cbt);
  if (napi_get_value_int32(env, argv[0], &fd_a) != napi_ok || napi_get_value_int32(env, argv[1], &fd_b) != napi_ok ||
      napi_get_value_int64(env, argv[2], &idle) != napi_ok || cbt != napi_function || fd_a < 0 || fd_b < 0 || idle < 0) {
    napi_throw_type_error(env, NULL, "relayStart(fdA, fdB, idleMs, onDone)");
    return NULL;
  }
  uv_loop_t* loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    napi_throw_error(env, NULL, "no libuv loop");
    return NULL;
  }
  relay* r = calloc(1, sizeof *r);
  if (r == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  r->env = env;
  r->loop = loop;
  r->fds[0] = r->fds[1] = -1;
  direction_init(&r->dirs[0], 0, 1);
  direction_init(&r->dirs[1], 1, 0);
  const char* failed = NULL;
  int err = 0;
  if ((r->fds[0] = fcntl(fd_a, F_DUPFD_CLOEXEC, 0)) < 0 || (r->fds[1] = fcntl(fd_b, F_DUPFD_CLOEXEC, 0)) < 0) {
    failed = "dup";
    err = errno;
    goto fail;
  }
  if ((err = -pipe_get(&r->dirs[0].pipe)) != 0 || (err = -pipe_get(&r->dirs[1].pipe)) != 0) {
    failed = "pipe2";
    goto fail;
  }
  if ((err = -uv_poll_init(loop, &r->polls[0], r->fds[0])) != 0) {
    failed = "uv_poll_init";
    goto fail;
  }
  r->polls[0].data = r;
  if ((err = -uv_poll_init(loop, &r->polls[1], r->fds[1])) != 0) {
    // polls[0] is a live handle: it frees the relay once closed.
    throw_errno(env, err, "uv_poll_init", NULL);
    r->js_gone = true;
    r->open_handles = 1;
    uv_close((uv_handle_t*)&r->polls[0], on_handle_closed);
    goto cleanup;
  }
  r->polls[1].data = r;
  r->open_handles = 2;
  r->idle_ms = (uint64_t)idle;
  if (r->idle_ms > 0) {
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    r->open_handles++;
    uv_timer_start(&r->timer, timer_cb, r->idle_ms, 0);
  }
  r->last_activity = uv_now(loop);
  napi_create_reference(env, argv[3], 1, &r->on_done);
  napi_value name;
  napi_create_string_latin1(env, "switchyard.relay", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &r->async);
  napi_value handle;
  napi_create_external(env, r, handle_finalize, NULL, &handle);
  // The first pump runs on the next poll callback: both sockets may already hold bytes.
  r->dirs[0].want_read = r->dirs[1].want_read = true;
  relay_update_polls(r);
  return handle;

fail:
  throw_errno(env, err, failed, NULL);
  r->js_gone = true;
cleanup:
  for (int i = 0; i < 2; i++)
    if (r->fds[i] >= 0) close(r->fds[i]);
  direction_free(&r->dirs[0]);
  direction_free(&r->dirs[1]);
  relay_maybe_free(r);
  return NULL;
}

static relay* get_relay(napi_env env, napi_value v) {
  void* p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, NULL, "not a relay handle");
    return NULL;
  }
  return (relay*)p;
}

// The relay handle a call got as its one argument, or NULL (no argument, or not a handle).
static relay* relay_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return NULL;
  return get_relay(env, argv[0]);
}

static napi_value RelayStop(napi_env env, napi_callback_info info) {
  relay* r = relay_arg(env, info);
  if (r == NULL) return NULL;
  relay_teardown(r);
  return counts_value(env, r);
}

static napi_value RelayCounts(napi_env env, napi_callback_info info) {
  relay* r = relay_arg(env, info);
  return r == NULL ? NULL : counts_value(env, r);
}

// relayWriteFirst(handle, pendingAtoB, pendingBtoA): bytes JS read before the relay took
// over, to be written before anything the relay reads. Only right after relayStart, in the same
// tick (no relay callback has run yet).
static napi_value RelayWriteFirst(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) return NULL;
  relay* r = get_relay(env, argv[0]);
  if (r == NULL || r->stopped) return NULL;
  for (int k = 0; k < 2; k++) {
    direction* d = &r->dirs[k];
    if (d->pending != NULL || d->read > 0 || d->written > 0) {
      napi_throw_error(env, NULL, "relayWriteFirst: the relay has started moving bytes");
      return NULL;
    }
    if (!copy_pending(env, argv[1 + k], d)) return NULL;
    d->want_write = d->pending_len > 0;
  }
  relay_update_polls(r);
  return NULL;
}

void relay_define(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"relayStart", NULL, RelayStart, NULL, NULL, NULL, napi_enumerable, NULL},
      {"relayStop", NULL, RelayStop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"relayCounts", NULL, RelayCounts, NULL, NULL, NULL, napi_enumerable, NULL},
      {"relayWriteFirst", NULL, RelayWriteFirst, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
