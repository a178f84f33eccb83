// libevent 2.1: event loops and the evhttp server. Only the headers the HTTPServer module uses.
#ifndef DONUTWORK_CLIBEVENT_SHIM_H
#define DONUTWORK_CLIBEVENT_SHIM_H

// libevent's event-config.h defines _GNU_SOURCE. Reading the C library's headers first, with the same feature
// macros as every other module, keeps their types (fd_set) identical across modules.
#include <sys/select.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

typedef evutil_socket_t dw_socket_t;
typedef ev_ssize_t dw_ssize_t;

/// Walks an evkeyvalq without the TAILQ macros, which Swift cannot import.
static inline struct evkeyval *dw_evkeyvalq_first(struct evkeyvalq *headers) {
    return headers->tqh_first;
}

static inline struct evkeyval *dw_evkeyval_next(struct evkeyval *header) {
    return header->next.tqe_next;
}

#endif
