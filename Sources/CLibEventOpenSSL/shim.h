// libevent's OpenSSL bufferevents and libssl: TLS for the evhttp server. Swift sees only the dw_ functions below.
#ifndef DONUTWORK_CLIBEVENTOPENSSL_SHIM_H
#define DONUTWORK_CLIBEVENTOPENSSL_SHIM_H

// Same order as CLibEvent's shim, so the C library's types (fd_set) stay identical across modules.
#include <sys/select.h>
#include <sys/socket.h>
#include <stdio.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>
#include <openssl/err.h>

/// A server SSL_CTX with this certificate chain and private key (PEM files), TLS 1.2 or later; NULL on failure,
/// with OpenSSL's reason in `error`.
static inline void *dw_tls_server_context_new(const char *certificate_file, const char *key_file, char *error,
                                               size_t error_length) {
    SSL_CTX *context = SSL_CTX_new(TLS_server_method());
    if (context == NULL) {
        snprintf(error, error_length, "SSL_CTX_new failed");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
    const char *step = NULL;
    if (SSL_CTX_use_certificate_chain_file(context, certificate_file) != 1) {
        step = "cannot use the certificate file";
    } else if (SSL_CTX_use_PrivateKey_file(context, key_file, SSL_FILETYPE_PEM) != 1) {
        step = "cannot use the key file";
    } else if (SSL_CTX_check_private_key(context) != 1) {
        step = "the key does not match the certificate";
    }
    if (step != NULL) {
        char reason[256] = "";
        ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
        snprintf(error, error_length, "%s: %s", step, reason);
        ERR_clear_error();
        SSL_CTX_free(context);
        return NULL;
    }
    return context;
}

static inline void dw_tls_server_context_free(void *context) {
    SSL_CTX_free((SSL_CTX *)context);
}

/// evhttp calls this for every accepted connection: a server-side TLS bufferevent that frees its SSL with it.
static inline struct bufferevent *dw_tls_make_bufferevent(struct event_base *base, void *context) {
    SSL *ssl = SSL_new((SSL_CTX *)context);
    if (ssl == NULL) {
        return NULL;
    }
    struct bufferevent *bev =
        bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    // Clients that close without a TLS close_notify (most HTTP clients) are not an error.
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

/// Makes `http` speak TLS on every connection it accepts, with `context` (an SSL_CTX that must outlive it).
static inline void dw_evhttp_use_tls(struct evhttp *http, void *context) {
    evhttp_set_bevcb(http, dw_tls_make_bufferevent, context);
}

#endif
