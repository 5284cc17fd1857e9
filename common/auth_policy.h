/*  =========================================================================
    auth_policy - who may do what, by CURVE public key (auth/policy)

    With CURVE on, the key a request came with is the one its sender proved
    in the handshake: ZeroMQ's `User-Id` metadata, which czmq's zauth sets
    to the client's public key (Z85 text). Never a field of the request.
    The policy file (ZPL) maps such keys to a role and, for services, to
    rights per collection:

        keys
            router                              #   a name, for logs
                cert = clients/router           #   its public cert file (relative
                                                #   to the policy file), or
                                                #   key = <40 Z85 characters>
                role = router                   #   router | node | admin | service
            billing
                key = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7
                grants                          #   service rights per collection
                    7 = read write list         #   collection-id (or any) =
                    any = read                  #   read write delete list, or *

    Rights: at the router, `read` (get, list-versions), `write` (put and
    streamed uploads), `delete`, `list` (listing keys); `*` all four. An
    `admin` key may do everything everywhere; `router` and `node` keys have
    no service rights unless granted. A key not in the file has no access.
    At a node, only `router`, `node` and `admin` keys may send anything.

    An auth_t holds the current policy for several threads and rereads
    its file on demand (SIGHUP); a file that does not load keeps the old
    policy.
    =========================================================================
*/
#ifndef STRATA_AUTH_POLICY_H_INCLUDED
#define STRATA_AUTH_POLICY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    AUTH_ROLE_NONE = 0,                 //  not in the policy
    AUTH_ROLE_SERVICE,                  //  only its grants
    AUTH_ROLE_ROUTER,                   //  a router: may use the nodes
    AUTH_ROLE_NODE,                     //  a node (handoff): may use the nodes
    AUTH_ROLE_ADMIN                     //  everything
} auth_role_t;

#define AUTH_READ       1U
#define AUTH_WRITE      2U
#define AUTH_DELETE     4U
#define AUTH_LIST       8U
#define AUTH_ALL        15U

#define AUTH_KEY_SIZE   40              //  Z85 text of a CURVE public key

typedef struct _auth_policy_t auth_policy_t;

//  Parse policy text (ZPL, size bytes, need not be NUL-terminated). cert
//  paths are relative to base_dir; base_dir NULL refuses `cert =` entries
//  (the fuzz harness). Returns the policy, or NULL with one line in error.
auth_policy_t *
    auth_policy_parse (const char *text, size_t size, const char *base_dir,
                       char *error, size_t error_size);

//  Load the policy file at path (cert paths relative to its directory).
//  NULL with one line in error (naming the file) if it cannot.
auth_policy_t *
    auth_policy_load (const char *path, char *error, size_t error_size);

//  Destroy and set the caller's pointer to NULL. Accepts NULL.
void
    auth_policy_destroy (auth_policy_t **self_p);

//  Number of keys in the policy.
size_t
    auth_policy_size (auth_policy_t *self);

//  The role of key (Z85 text; NULL or unknown: AUTH_ROLE_NONE).
auth_role_t
    auth_policy_role (auth_policy_t *self, const char *key);

//  The name given to key in the file, or NULL.
const char *
    auth_policy_name (auth_policy_t *self, const char *key);

//  The rights (AUTH_* bits) key has on collection_id: all for admin keys,
//  else the grants for that collection plus those for `any`.
unsigned
    auth_policy_rights (auth_policy_t *self, const char *key, uint32_t collection_id);

//  Wire names of rights, for messages: "read", "write", "delete", "list".
const char *
    auth_right_name (unsigned right);

typedef struct _auth_t auth_t;

//  Load path into a holder. NULL with one line in error.
auth_t *
    auth_new (const char *path, char *error, size_t error_size);

//  Destroy and set the caller's pointer to NULL. Accepts NULL.
void
    auth_destroy (auth_t **self_p);

//  Reread the file; on failure keep the current policy and return -1 with
//  one line in error. Safe while other threads ask.
int
    auth_reload (auth_t *self, char *error, size_t error_size);

//  auth_policy_role / _rights on the current policy (thread-safe).
auth_role_t
    auth_role (auth_t *self, const char *key);
unsigned
    auth_rights (auth_t *self, const char *key, uint32_t collection_id);

//  The file the holder reads.
const char *
    auth_path (auth_t *self);

#endif
