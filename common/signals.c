/*  =========================================================================
    signals - how a Strata program takes its signals
    =========================================================================
*/
#include <signal.h>
#include <sys/signalfd.h>
#include "signals.h"

struct _signals_t {
    sigset_t set;                   //  SIGTERM, SIGINT, SIGHUP
    int fd;                         //  signalfd over set
};

signals_t *
signals_new (const char *logident)
{
    assert (logident);
    signals_t *self = (signals_t *) zmalloc (sizeof (signals_t));
    sigemptyset (&self->set);
    sigaddset (&self->set, SIGTERM);
    sigaddset (&self->set, SIGINT);
    sigaddset (&self->set, SIGHUP);
    pthread_sigmask (SIG_BLOCK, &self->set, NULL);
    signal (SIGPIPE, SIG_IGN);
    zsys_handler_set (NULL);
    zsys_init ();
    zsys_set_logident (logident);
    zsys_set_logstream (stderr);
    self->fd = signalfd (-1, &self->set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (self->fd < 0) {
        zsys_error ("cannot take signals: signalfd: %s", strerror (errno));
        free (self);
        return NULL;
    }
    return self;
}

void
signals_destroy (signals_t **self_p)
{
    assert (self_p);
    signals_t *self = *self_p;
    if (!self)
        return;
    close (self->fd);
    free (self);
    *self_p = NULL;
}

int
signals_fd (signals_t *self)
{
    assert (self);
    return self->fd;
}

int
signals_take (signals_t *self)
{
    assert (self);
    struct signalfd_siginfo info;
    if (read (self->fd, &info, sizeof (info)) != (ssize_t) sizeof (info))
        return 0;
    return (int) info.ssi_signo;
}

int
signals_wait (signals_t *self, long timeout_ms)
{
    assert (self);
    zmq_pollitem_t item = { NULL, self->fd, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, timeout_ms) <= 0)
        return 0;
    return signals_take (self);
}
