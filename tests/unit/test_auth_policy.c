/*  =========================================================================
    test_auth_policy - the authorization policy: parsing, roles, grants,
    reload keeping the old policy on a bad file; and the reply budget
    =========================================================================
*/
#include <criterion/criterion.h>
#include <czmq.h>
#include <stdio.h>
#include <unistd.h>
#include "auth_policy.h"
#include "reply_budget.h"

#define KEY_A "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
#define KEY_B "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
#define KEY_C "E#6*bX]X!1[LE]5k#uiE{%4}#UXU!fNs5@/xIG:&"

static char s_error [600];

static auth_policy_t *
s_parse (const char *text)
{
    s_error [0] = 0;
    return auth_policy_parse (text, strlen (text), NULL, s_error, sizeof s_error);
}

Test (auth_policy, roles_and_grants)
{
    auth_policy_t *policy = s_parse (
        "keys\n"
        "    admin\n        key = \"" KEY_A "\"\n        role = admin\n"
        "    router\n        key = \"" KEY_B "\"\n        role = router\n"
        "    billing\n        key = \"" KEY_C "\"\n        grants\n"
        "            7 = read write list\n            9 = delete\n            any = read\n");
    cr_assert_not_null (policy, "%s", s_error);
    cr_assert_eq (auth_policy_size (policy), 3);
    cr_assert_eq (auth_policy_role (policy, KEY_A), AUTH_ROLE_ADMIN);
    cr_assert_eq (auth_policy_rights (policy, KEY_A, 12345), AUTH_ALL);
    cr_assert_eq (auth_policy_role (policy, KEY_B), AUTH_ROLE_ROUTER);
    cr_assert_eq (auth_policy_rights (policy, KEY_B, 7), 0, "a router key has no service rights");
    cr_assert_eq (auth_policy_role (policy, KEY_C), AUTH_ROLE_SERVICE);
    cr_assert_str_eq (auth_policy_name (policy, KEY_C), "billing");
    cr_assert_eq (auth_policy_rights (policy, KEY_C, 7), AUTH_READ | AUTH_WRITE | AUTH_LIST);
    cr_assert_eq (auth_policy_rights (policy, KEY_C, 9), AUTH_READ | AUTH_DELETE);
    cr_assert_eq (auth_policy_rights (policy, KEY_C, 8), AUTH_READ, "only the any grant");
    cr_assert_eq (auth_policy_role (policy, "Z" KEY_A), AUTH_ROLE_NONE);
    cr_assert_eq (auth_policy_role (policy, NULL), AUTH_ROLE_NONE);
    cr_assert_eq (auth_policy_rights (policy, NULL, 7), 0, "an unlisted key has no access");
    auth_policy_destroy (&policy);
    cr_assert_null (policy);
}

Test (auth_policy, refusals_are_one_line)
{
    const char *bad [] = {
        "keys\n    a\n        key = short\n",
        "keys\n    a\n        role = admin\n",
        "keys\n    a\n        key = \"" KEY_A "\"\n        cert = x\n",
        "keys\n    a\n        key = \"" KEY_A "\"\n        role = root\n",
        "keys\n    a\n        key = \"" KEY_A "\"\n        grants\n            7 = execute\n",
        "keys\n    a\n        key = \"" KEY_A "\"\n        grants\n            x7 = read\n",
        "keys\n    a\n        key = \"" KEY_A "\"\n        grants\n            4294967296 = read\n",
        "keys\n    a\n        key = \"" KEY_A "\"\n    b\n        key = \"" KEY_A "\"\n",
        "keys\n    a\n        key = \"" KEY_A "\"\n        colour = blue\n",
        "keys\n    a\n        cert = clients/a\n",           //  no base directory
        "other\n    x = 1\n",
        "keys\n  bad indent\n",
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        auth_policy_t *policy = s_parse (bad [index]);
        cr_assert_null (policy, "accepted: %s", bad [index]);
        cr_assert (s_error [0] && !strchr (s_error, '\n'), "error for %s: '%s'", bad [index], s_error);
    }
    auth_policy_t *empty = s_parse ("");
    cr_assert_not_null (empty, "an empty policy is no access for anyone: %s", s_error);
    cr_assert_eq (auth_policy_size (empty), 0);
    auth_policy_destroy (&empty);
}

Test (auth_policy, cert_files_and_reload)
{
    char dir [] = "/tmp/strata-auth-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    zcert_t *cert = zcert_new ();
    char cert_path [128], policy_path [128], secret_path [160];
    snprintf (cert_path, sizeof cert_path, "%s/service", dir);
    snprintf (secret_path, sizeof secret_path, "%s/service_secret", dir);
    snprintf (policy_path, sizeof policy_path, "%s/policy.cfg", dir);
    cr_assert_eq (zcert_save (cert, cert_path), 0);
    FILE *file = fopen (policy_path, "w");
    fprintf (file, "keys\n    service\n        cert = service\n        grants\n            7 = write\n");
    fclose (file);
    auth_t *auth = auth_new (policy_path, s_error, sizeof s_error);
    cr_assert_not_null (auth, "%s", s_error);
    const char *key = zcert_public_txt (cert);
    cr_assert_eq (auth_rights (auth, key, 7), AUTH_WRITE);
    //  Revoked in the file: a reload takes it away
    file = fopen (policy_path, "w");
    fprintf (file, "keys\n    service\n        cert = service\n        grants\n            7 = read\n");
    fclose (file);
    cr_assert_eq (auth_rights (auth, key, 7), AUTH_WRITE, "nothing changes before the reload");
    cr_assert_eq (auth_reload (auth, s_error, sizeof s_error), 0, "%s", s_error);
    cr_assert_eq (auth_rights (auth, key, 7), AUTH_READ);
    //  A broken file keeps the policy in force
    file = fopen (policy_path, "w");
    fprintf (file, "keys\n    service\n        cert = missing\n");
    fclose (file);
    cr_assert_eq (auth_reload (auth, s_error, sizeof s_error), -1);
    cr_assert (strstr (s_error, policy_path), "names the file: %s", s_error);
    cr_assert_eq (auth_rights (auth, key, 7), AUTH_READ);
    auth_destroy (&auth);
    zcert_destroy (&cert);
    unlink (policy_path);
    unlink (cert_path);
    unlink (secret_path);
    rmdir (dir);
    cr_assert_null (auth_new ("/nonexistent/policy.cfg", s_error, sizeof s_error));
}

Test (reply_budget, take_release_and_zero_copy_send)
{
    reply_budget_t *budget = reply_budget_new (1000);
    cr_assert (reply_budget_take (budget, 600));
    cr_assert_not (reply_budget_take (budget, 401), "over the limit");
    cr_assert (reply_budget_take (budget, 400));
    cr_assert_eq (reply_budget_held (budget), 1000);
    reply_budget_release (budget, 1000);
    cr_assert_eq (reply_budget_held (budget), 0);

    //  A sent frame holds its bytes until the peer takes it
    zsock_t *pull = zsock_new_pull ("inproc://budget-test");
    zsock_t *push = zsock_new_push (">inproc://budget-test");
    reply_queue_t *queue = reply_queue_new ();
    cr_assert (reply_budget_take (budget, 300));
    zframe_t *frame = zframe_new (NULL, 300);
    cr_assert_geq (reply_budget_send (budget, queue, zsock_resolve (push), &frame, 0, true), 0);
    cr_assert_null (frame);
    zframe_t *got = zframe_recv (pull);
    cr_assert_eq (zframe_size (got), 300);
    zframe_destroy (&got);
    //  inproc passes the message itself: freed once the receiver let it go
    cr_assert_eq (reply_budget_held (budget), 0);
    cr_assert_eq (atomic_load (&queue->bytes), 0);
    cr_assert_eq (atomic_load (&queue->replies), 0);
    //  The budget outlives its owner while a message holds it
    cr_assert (reply_budget_take (budget, 10));
    frame = zframe_new (NULL, 10);
    cr_assert_geq (reply_budget_send (budget, queue, zsock_resolve (push), &frame, 0, true), 0);
    reply_budget_destroy (&budget);
    reply_queue_destroy (&queue);
    got = zframe_recv (pull);
    zframe_destroy (&got);
    zsock_destroy (&push);
    zsock_destroy (&pull);
}
