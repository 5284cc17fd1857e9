/*  =========================================================================
    actor_start - the start-up handshake of a czmq actor
    =========================================================================
*/
#include "actor_start.h"

zactor_t *
actor_start (zactor_fn *actor_fn, void *args, const char *what, zmsg_t **ready_p,
             char *error, size_t error_size)
{
    assert (actor_fn && what && error);
    if (ready_p)
        *ready_p = NULL;
    zactor_t *actor = zactor_new (actor_fn, args);
    if (!actor) {
        snprintf (error, error_size, "cannot start the %s", what);
        return NULL;
    }
    zmsg_t *reply = zmsg_recv (actor);
    char *status = reply? zmsg_popstr (reply): NULL;
    if (!status || !streq (status, "READY")) {
        char *detail = reply? zmsg_popstr (reply): NULL;
        if (detail)
            snprintf (error, error_size, "%s", detail);
        else
            snprintf (error, error_size, "cannot start the %s", what);
        zstr_free (&detail);
        zstr_free (&status);
        zmsg_destroy (&reply);
        zactor_destroy (&actor);
        return NULL;
    }
    zstr_free (&status);
    if (ready_p)
        *ready_p = reply;
    else
        zmsg_destroy (&reply);
    return actor;
}

bool
actor_start_report (zsock_t *pipe, const char *error)
{
    assert (pipe);
    if (error && *error) {
        zsock_signal (pipe, 0);
        zstr_sendx (pipe, "ERROR", error, NULL);
        return false;
    }
    actor_start_ready (pipe, NULL);
    return true;
}

void
actor_start_ready (zsock_t *pipe, zmsg_t **frames_p)
{
    assert (pipe);
    zmsg_t *message = frames_p && *frames_p? *frames_p: zmsg_new ();
    if (frames_p)
        *frames_p = NULL;
    zsock_signal (pipe, 0);
    zmsg_pushstr (message, "READY");
    zmsg_send (&message, pipe);
}

void
actor_start_wait_term (zsock_t *pipe)
{
    assert (pipe);
    char *command = zstr_recv (pipe);
    zstr_free (&command);
}
