/*  =========================================================================
    http_server - a small HTTP endpoint for metrics, health and status pages

    libmicrohttpd parses HTTP; this module picks its limits, resolves the
    listen address, keeps only GET/HEAD, and turns the handler's FILE *
    (an open_memstream buffer) into a response.
    =========================================================================
*/
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include "http_server.h"

struct _http_server_t {
    struct MHD_Daemon *daemon;      //  libmicrohttpd, with its own thread
    http_handler_fn *handler;       //  answers every GET
    void *arg;                      //  handler's argument
    int port;                       //  bound port
};

//  Split HOST:PORT into host and port text. 0, or -1 with error.
static int
s_split (const char *listen, char *host, size_t host_size, char *port, size_t port_size,
         char *error, size_t error_size)
{
    const char *colon = listen? strrchr (listen, ':'): NULL;
    if (!listen || !colon || colon == listen || !colon [1]) {
        snprintf (error, error_size, "metrics listen '%s' is not HOST:PORT (e.g. 127.0.0.1:9100)",
                  listen? listen: "");
        return -1;
    }
    const char *start = listen;
    size_t length = (size_t) (colon - listen);
    if (*start == '[') {
        if (length < 3 || listen [length - 1] != ']') {
            snprintf (error, error_size, "metrics listen '%s': an IPv6 host goes in [brackets]", listen);
            return -1;
        }
        start++;
        length -= 2;
    }
    if (length >= host_size || strlen (colon + 1) >= port_size) {
        snprintf (error, error_size, "metrics listen '%s' is too long", listen);
        return -1;
    }
    memcpy (host, start, length);
    host [length] = 0;
    snprintf (port, port_size, "%s", colon + 1);
    char *end;
    errno = 0;
    long number = strtol (port, &end, 10);
    if (errno || *end || number < 0 || number > 65535 || !*port || *port == '-' || *port == '+') {
        snprintf (error, error_size, "metrics listen '%s': port must be a number in 0..65535", listen);
        return -1;
    }
    return 0;
}

//  Resolve HOST:PORT to one address. 0, or -1 with error.
static int
s_resolve (const char *listen, struct sockaddr_storage *address, char *error, size_t error_size)
{
    char host [256], port [16];
    if (s_split (listen, host, sizeof host, port, sizeof port, error, error_size))
        return -1;
    struct addrinfo hints, *found = NULL;
    memset (&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo (host, port, &hints, &found);
    if (rc || !found) {
        snprintf (error, error_size, "metrics listen '%s': cannot resolve '%s': %s", listen, host,
                  rc? gai_strerror (rc): "no address");
        return -1;
    }
    memset (address, 0, sizeof *address);
    memcpy (address, found->ai_addr, found->ai_addrlen);
    freeaddrinfo (found);
    return 0;
}

int
http_server_check_listen (const char *listen, char *error, size_t error_size)
{
    struct sockaddr_storage address;
    return s_resolve (listen, &address, error, error_size);
}

static enum MHD_Result
s_answer (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
    (void) version;
    (void) upload_data;
    http_server_t *self = (http_server_t *) cls;
    bool is_get = strcmp (method, MHD_HTTP_METHOD_GET) == 0;
    bool is_head = strcmp (method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!*state) {
        //  First call: headers only. Come back for the body (none wanted).
        *state = (void *) 1;
        return MHD_YES;
    }
    if (*upload_data_size) {
        //  A body (any method): discard it, answer once it has all come
        *upload_data_size = 0;
        return MHD_YES;
    }
    int status;
    const char *content_type = "text/plain; charset=utf-8";
    char *text = NULL;
    size_t size = 0;
    FILE *body = open_memstream (&text, &size);
    if (!body)
        return MHD_NO;
    if (!is_get && !is_head) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        fprintf (body, "method %s is not served here: use GET\n", method);
    }
    else
        status = self->handler (self->arg, url, body, &content_type);
    if (fclose (body)) {
        free (text);
        return MHD_NO;
    }
    struct MHD_Response *response = MHD_create_response_from_buffer (size, text, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free (text);
        return MHD_NO;
    }
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response (connection, (unsigned int) status, response);
    MHD_destroy_response (response);
    return rc;
}

http_server_t *
http_server_new (const char *listen, http_handler_fn *handler, void *arg,
                 char *error, size_t error_size)
{
    assert (handler && error);
    struct sockaddr_storage address;
    if (s_resolve (listen, &address, error, error_size))
        return NULL;
    http_server_t *self = (http_server_t *) calloc (1, sizeof (http_server_t));
    if (!self) {
        snprintf (error, error_size, "metrics: out of memory");
        return NULL;
    }
    self->handler = handler;
    self->arg = arg;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (address.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    errno = 0;
    self->daemon = MHD_start_daemon (flags, 0, NULL, NULL, s_answer, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) HTTP_SERVER_MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) HTTP_SERVER_MEMORY_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) HTTP_SERVER_TIMEOUT_SECONDS,
        MHD_OPTION_STRICT_FOR_CLIENT, (int) 1,
        MHD_OPTION_END);
    if (!self->daemon) {
        snprintf (error, error_size, "metrics: cannot listen on %s: %s", listen,
                  errno? strerror (errno): "libmicrohttpd refused to start");
        free (self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info? (int) info->port: 0;
    return self;
}

void
http_server_destroy (http_server_t **self_p)
{
    assert (self_p);
    http_server_t *self = *self_p;
    if (!self)
        return;
    MHD_stop_daemon (self->daemon);
    free (self);
    *self_p = NULL;
}

int
http_server_port (http_server_t *self)
{
    assert (self);
    return self->port;
}

void
http_server_html_escape (FILE *body, const char *text)
{
    for (const char *c = text? text: ""; *c; c++)
        switch (*c) {
            case '<': fputs ("&lt;", body); break;
            case '>': fputs ("&gt;", body); break;
            case '&': fputs ("&amp;", body); break;
            case '"': fputs ("&quot;", body); break;
            case '\'': fputs ("&#39;", body); break;
            default: fputc (*c, body);
        }
}
