/*  =========================================================================
    http_server - a small HTTP endpoint for metrics, health and status pages

    A wrapper around GNU libmicrohttpd, shared by strata-node and
    strata-router. The server runs in its own thread (libmicrohttpd's
    internal polling thread); the handler is called on that thread only,
    one request at a time, so it must only read what the other threads
    already publish (atomics, snapshots under a short lock) and never wait
    for them.

    Bounds, so bad clients cost bounded memory and no data-path time:
    at most HTTP_SERVER_MAX_CONNECTIONS connections at once (more are
    refused at accept), HTTP_SERVER_MEMORY_LIMIT bytes per connection for
    the request line and headers (larger requests are answered 431 and
    closed), and a connection idle for HTTP_SERVER_TIMEOUT_SECONDS is
    closed (slowloris). Only GET and HEAD are served (others: 405).

        http_server_t *server = http_server_new ("127.0.0.1:9100", handler, arg,
                                                 error, sizeof error);
        ...
        http_server_destroy (&server);
    =========================================================================
*/
#ifndef STRATA_HTTP_SERVER_H_INCLUDED
#define STRATA_HTTP_SERVER_H_INCLUDED

#include <stdio.h>
#include <stddef.h>

#define HTTP_SERVER_MAX_CONNECTIONS   64
#define HTTP_SERVER_MEMORY_LIMIT      (32 * 1024)
#define HTTP_SERVER_TIMEOUT_SECONDS   5

typedef struct _http_server_t http_server_t;

//  Answer one GET for path (without the query string): write the body into
//  body, set *content_type_p to a static string, return the HTTP status
//  (200, 404, 503, ...). Called on the server's thread.
typedef int (http_handler_fn) (void *arg, const char *path, FILE *body,
                               const char **content_type_p);

//  Check a listen address, HOST:PORT ("127.0.0.1:9100", "[::1]:9100",
//  "localhost:0"; port 0 takes any free port). Returns 0, or -1 with one
//  line in error naming the problem.
int
    http_server_check_listen (const char *listen, char *error, size_t error_size);

//  Start a server listening on listen (HOST:PORT) that answers with
//  handler (arg is passed back). Returns NULL with one line in error when
//  the address is bad or cannot be bound.
http_server_t *
    http_server_new (const char *listen, http_handler_fn *handler, void *arg,
                     char *error, size_t error_size);

//  Stop the server (waits for its thread) and set the caller's pointer to
//  NULL. Accepts NULL.
void
    http_server_destroy (http_server_t **self_p);

//  The port the server listens on (the one bound for port 0).
int
    http_server_port (http_server_t *self);

//  Write text into body with the HTML special characters escaped.
void
    http_server_html_escape (FILE *body, const char *text);

#endif
