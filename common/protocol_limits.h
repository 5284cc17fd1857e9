/*  =========================================================================
    protocol_limits - every length and count limit of the protocol, in one place

    Checked before anything is allocated from outside input.
    =========================================================================
*/
#ifndef STRATA_LIMITS_H_INCLUDED
#define STRATA_LIMITS_H_INCLUDED

#define LIMIT_ID_MAX            128     //  message-id, client-tag, user-request-id
#define LIMIT_ADDRESS_MAX       256     //  client-address
#define LIMIT_KEY_MAX           1024    //  key, bytes of UTF-8
#define LIMIT_NODE_NAME_MAX     128     //  source-node-name, handoff-node-name
#define LIMIT_MESSAGE_TYPE_MAX  64      //  message-type
#define LIMIT_TIMESTAMP_MAX     128     //  timestamp-repr text
#define LIMIT_FINGERPRINT_MAX   128     //  cluster-fingerprint
#define LIMIT_META_ENTRIES      64      //  entries in meta
#define LIMIT_META_STRING_MAX   1024    //  each meta key and each meta value
#define LIMIT_HEADER_MAX        (256 * 1024)    //  bytes of frame 0

#endif
