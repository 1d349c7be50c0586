// Shared between the addon's C files (one addon: interception.c registers everything).
#ifndef SWITCHYARD_RELAY_H
#define SWITCHYARD_RELAY_H
#include <node_api.h>

// Throws a JS Error with errno (negative), syscall and option; see interception.c.
void throw_errno(napi_env env, int err, const char* syscall, const char* option);
// Adds relayStart / relayStop (relay.c) to the exports.
void relay_define(napi_env env, napi_value exports);
#endif
