/*  =========================================================================
    work - one received request on its way to the thread that handles it
    =========================================================================
*/
#include "work.h"

work_t *
work_new (void)
{
    work_t *self = (work_t *) zmalloc (sizeof (work_t));
    self->payload = zmsg_new ();
    return self;
}

void
work_destroy (work_t **self_p)
{
    assert (self_p);
    work_t *self = *self_p;
    if (!self)
        return;
    free (self->request.meta);
    zmsg_destroy (&self->payload);
    free (self);
    *self_p = NULL;
}

void
work_fail (work_t *self, result_t result, const char *format, ...)
{
    assert (self);
    self->verdict = result;
    va_list args;
    va_start (args, format);
    vsnprintf (self->verdict_message, sizeof (self->verdict_message), format, args);
    va_end (args);
}
