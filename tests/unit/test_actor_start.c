/*  =========================================================================
    test_actor_start - the start-up handshake every long-lived actor uses

    An actor reports READY (with or without frames of its own) or ERROR
    and a line; the starter keeps the actor or destroys it and passes the
    line on.
    =========================================================================
*/

#include <criterion/criterion.h>
#include "actor_start.h"

//  Starts as args says: "ok", "frames" (READY + two frames), else ERROR args
static void
s_actor (zsock_t *pipe, void *args)
{
    const char *how = (const char *) args;
    if (streq (how, "frames")) {
        zmsg_t *frames = zmsg_new ();
        zmsg_addstr (frames, "tcp://127.0.0.1:1");
        zmsg_addstr (frames, "second");
        actor_start_ready (pipe, &frames);
        cr_assert_null (frames, "the frames were taken");
    }
    else
    if (!actor_start_report (pipe, streq (how, "ok")? "": how)) {
        actor_start_wait_term (pipe);
        return;
    }
    char *command = zstr_recv (pipe);       //  $TERM
    zstr_free (&command);
}

Test (actor_start, ready_without_frames)
{
    char error [64] = "untouched";
    zmsg_t *ready = NULL;
    zactor_t *actor = actor_start (s_actor, "ok", "test actor", &ready, error, sizeof error);
    cr_assert_not_null (actor);
    cr_assert_not_null (ready);
    cr_assert_eq (zmsg_size (ready), 0);
    zmsg_destroy (&ready);
    zactor_destroy (&actor);
}

Test (actor_start, ready_with_frames)
{
    char error [64];
    zmsg_t *ready = NULL;
    zactor_t *actor = actor_start (s_actor, "frames", "test actor", &ready, error, sizeof error);
    cr_assert_not_null (actor);
    cr_assert_eq (zmsg_size (ready), 2);
    char *first = zmsg_popstr (ready);
    char *second = zmsg_popstr (ready);
    cr_assert_str_eq (first, "tcp://127.0.0.1:1");
    cr_assert_str_eq (second, "second");
    zstr_free (&first);
    zstr_free (&second);
    zmsg_destroy (&ready);
    zactor_destroy (&actor);
}

Test (actor_start, error_is_passed_on)
{
    char error [64] = "";
    zmsg_t *ready = NULL;
    zactor_t *actor = actor_start (s_actor, "cannot bind tcp://127.0.0.2:1", "test actor", &ready,
                                   error, sizeof error);
    cr_assert_null (actor);
    cr_assert_null (ready);
    cr_assert_str_eq (error, "cannot bind tcp://127.0.0.2:1");
}
