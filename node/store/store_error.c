/*  =========================================================================
    store_error - the storage layer's one error convention

    The codes and the convention are described in store_error.h.
    =========================================================================
*/
#include <string.h>
#include "store_error.h"

const char *
store_strerror (int code)
{
    switch (code) {
        case 0:
            return "success";
        case STORE_ERR_SQL:
            return "index statement failed (SQLite; the log names it)";
        case STORE_ERR_CORRUPT:
            return "not an intact record";
        case STORE_ERR_STALE:
            return "the index changed meanwhile; nothing was changed";
        case STORE_ERR_BUSY:
            return "the index is busy (locked past the busy timeout)";
        case STORE_ERR_NOT_FOUND:
            return "not found in the index";
        default:
            break;
    }
    //  strerror names every value in the errno range; a code in between
    //  is not one of ours
    if (code < 0 && code > -4096)
        return strerror (-code);
    return "unknown store error";
}
