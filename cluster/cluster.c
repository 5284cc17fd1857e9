/*  =========================================================================
    cluster - placeholder so the strata_cluster library always has a source
    while its modules (erasure, router, client) are being written.
    =========================================================================
*/
int cluster_library_present = 1;
