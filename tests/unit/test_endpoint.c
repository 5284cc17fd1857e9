/*  =========================================================================
    test_endpoint - endpoint_parse and the reply-address allow-list

    The parser must accept exactly tcp://HOST:PORT (name, IPv4, [IPv6], "*"
    for binding; port 1..65535 or "*") and ipc://PATH (1..200 printable
    bytes), and reject everything ZeroMQ would read in a surprising way. The
    allow-list must only let through connectable endpoints on listed hosts.
    =========================================================================
*/

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"

#define COUNT(a)    (sizeof (a) / sizeof (a) [0])

//  --------------------------------------------------------------------------
//  endpoint_parse: accepted shapes

Test (endpoint, parse_tcp_ipv4)
{
    endpoint_t endpoint;
    cr_assert_eq (endpoint_parse ("tcp://127.0.0.1:5555", &endpoint), 0);
    cr_assert_eq (endpoint.scheme, ENDPOINT_TCP);
    cr_assert_str_eq (endpoint.host, "127.0.0.1");
    cr_assert_eq (endpoint.port, 5555);
}

Test (endpoint, parse_tcp_ipv6_brackets)
{
    endpoint_t endpoint;
    cr_assert_eq (endpoint_parse ("tcp://[::1]:5555", &endpoint), 0);
    cr_assert_eq (endpoint.scheme, ENDPOINT_TCP);
    cr_assert_str_eq (endpoint.host, "::1", "brackets are stripped, got '%s'", endpoint.host);
    cr_assert_eq (endpoint.port, 5555);

    cr_assert_eq (endpoint_parse ("tcp://[fe80::1:2]:80", &endpoint), 0);
    cr_assert_str_eq (endpoint.host, "fe80::1:2");
    cr_assert_eq (endpoint.port, 80);
}

Test (endpoint, parse_tcp_name_and_port_limits)
{
    endpoint_t endpoint;
    cr_assert_eq (endpoint_parse ("tcp://localhost:1", &endpoint), 0);
    cr_assert_str_eq (endpoint.host, "localhost");
    cr_assert_eq (endpoint.port, 1);

    cr_assert_eq (endpoint_parse ("tcp://node-01.example_net:65535", &endpoint), 0);
    cr_assert_str_eq (endpoint.host, "node-01.example_net");
    cr_assert_eq (endpoint.port, 65535);
}

Test (endpoint, parse_bind_wildcards)
{
    endpoint_t endpoint;
    cr_assert_eq (endpoint_parse ("tcp://*:5555", &endpoint), 0);
    cr_assert_str_eq (endpoint.host, "*");
    cr_assert_eq (endpoint.port, 5555);

    cr_assert_eq (endpoint_parse ("tcp://host:*", &endpoint), 0);
    cr_assert_str_eq (endpoint.host, "host");
    cr_assert_eq (endpoint.port, 0, "'*' port is reported as 0");

    cr_assert_eq (endpoint_parse ("tcp://127.0.0.1:*", NULL), 0);
    cr_assert_eq (endpoint_parse ("tcp://*:*", NULL), 0);
}

Test (endpoint, parse_null_output_is_allowed)
{
    cr_assert_eq (endpoint_parse ("tcp://127.0.0.1:5555", NULL), 0);
    cr_assert_eq (endpoint_parse ("udp://127.0.0.1:5555", NULL), -1);
}

//  --------------------------------------------------------------------------
//  endpoint_parse: rejected shapes

Test (endpoint, parse_rejects)
{
    const char *bad [] = {
        "",
        "127.0.0.1:5555",                   //  missing scheme
        "//127.0.0.1:5555",
        "udp://127.0.0.1:5555",
        "TCP://127.0.0.1:5555",             //  scheme is lower case
        "pgm://eth0;239.192.1.1:5555",
        "inproc://name",
        "tcp://",
        "tcp://host",                       //  no port
        "tcp://host:",                      //  empty port
        "tcp://host:0",
        "tcp://host:65536",
        "tcp://host:99999",
        "tcp://host:99999999",
        "tcp://host:123456",
        "tcp://host:-1",
        "tcp://host:+80",
        "tcp://host:8o",
        "tcp://host:80a",
        "tcp://host:0x50",
        "tcp://:5555",                      //  empty host
        "tcp://[]:5555",
        "tcp://[::1]",                      //  IPv6 without port
        "tcp://[::1]5555",
        "tcp://[::1:5555",
        "tcp://[zz::1]:5555",
        "tcp://::1:5555",                   //  IPv6 without brackets
        "tcp://127.0.0.1:1;10.0.0.1:2",     //  ZeroMQ source;destination
        "tcp://127.0.0.1;10.0.0.1:2",
        "tcp://eth0;10.0.0.1:5555",         //  interface;destination
        "tcp://eth0:5555;10.0.0.1:5555",
        "tcp://127.0.0.1 :5555",            //  spaces
        "tcp://127.0.0.1: 5555",
        "tcp://127.0.0.1:5555 ",
        " tcp://127.0.0.1:5555",
        "tcp:// 127.0.0.1:5555",
        "tcp://127.0.0.1:5555\n",
        "tcp://a*:5555",                    //  "*" only alone
        "tcp://**:5555",
        "tcp://host/path:5555",
        "tcp://user@host:5555",
        "ipc://",                           //  empty path
        "ipc://a;b",
        "ipc://tab\there",
    };
    for (size_t index = 0; index < COUNT (bad); index++) {
        endpoint_t endpoint;
        cr_assert_eq (endpoint_parse (bad [index], &endpoint), -1,
                      "'%s' must be rejected", bad [index]);
    }
    cr_assert_eq (endpoint_parse (NULL, NULL), -1);
    endpoint_t endpoint;
    cr_assert_eq (endpoint_parse (NULL, &endpoint), -1);
}

Test (endpoint, parse_rejects_very_long_text)
{
    char text [2001];
    memset (text, 'a', sizeof (text) - 1);
    text [sizeof (text) - 1] = 0;
    memcpy (text, "tcp://", 6);
    memcpy (text + sizeof (text) - 6, ":5555", 5);
    cr_assert_eq (endpoint_parse (text, NULL), -1, "a 2000-byte endpoint must be rejected");

    memcpy (text, "ipc://", 6);
    cr_assert_eq (endpoint_parse (text, NULL), -1, "a 2000-byte ipc path must be rejected");

    //  A host that does not fit the 256-byte host field
    char long_host [300 + 16];
    snprintf (long_host, sizeof (long_host), "tcp://%0300d:1", 0);
    cr_assert_eq (endpoint_parse (long_host, NULL), -1);
}

Test (endpoint, parse_ipc_paths)
{
    endpoint_t endpoint;
    cr_assert_eq (endpoint_parse ("ipc:///tmp/strata/reply.sock", &endpoint), 0);
    cr_assert_eq (endpoint.scheme, ENDPOINT_IPC);
    cr_assert_str_eq (endpoint.host, "/tmp/strata/reply.sock");

    cr_assert_eq (endpoint_parse ("ipc://relative", &endpoint), 0);
    cr_assert_str_eq (endpoint.host, "relative");

    //  1..200 bytes of path
    char text [6 + 201 + 1];
    memcpy (text, "ipc://", 6);
    memset (text + 6, 'p', 200);
    text [6 + 200] = 0;
    cr_assert_eq (endpoint_parse (text, &endpoint), 0, "a 200-byte path is allowed");
    cr_assert_eq (strlen (endpoint.host), 200);
    text [6 + 200] = 'p';
    text [6 + 201] = 0;
    cr_assert_eq (endpoint_parse (text, &endpoint), -1, "a 201-byte path is not");
}

Test (endpoint, parse_failure_clears_output)
{
    endpoint_t endpoint;
    cr_assert_eq (endpoint_parse ("tcp://127.0.0.1:5555", &endpoint), 0);
    cr_assert_eq (endpoint_parse ("tcp://127.0.0.1:0", &endpoint), -1);
    cr_assert_eq (endpoint.port, 0);
    cr_assert_str_eq (endpoint.host, "");
}

//  --------------------------------------------------------------------------
//  Allow-list

static endpoint_allow_t *
s_default_allow (void)
{
    endpoint_allow_t *allow = endpoint_allow_new ();
    cr_assert_not_null (allow);
    endpoint_allow_add_host (allow, "127.0.0.1");
    endpoint_allow_add_host (allow, "::1");
    endpoint_allow_add_host (allow, "localhost");
    return allow;
}

Test (endpoint_allow, empty_allows_nothing)
{
    endpoint_allow_t *allow = endpoint_allow_new ();
    cr_assert_not_null (allow);
    cr_assert_not (endpoint_allow_check (allow, "tcp://127.0.0.1:5555"));
    cr_assert_not (endpoint_allow_check (allow, "ipc:///tmp/x"), "ipc is off by default");
    endpoint_allow_destroy (&allow);
    cr_assert_null (allow);
    endpoint_allow_destroy (&allow);        //  accepts NULL
}

Test (endpoint_allow, loopback)
{
    endpoint_allow_t *allow = s_default_allow ();
    cr_assert (endpoint_allow_check (allow, "tcp://127.0.0.1:5555"));
    cr_assert (endpoint_allow_check (allow, "tcp://[::1]:5555"));
    cr_assert (endpoint_allow_check (allow, "tcp://localhost:1"));
    cr_assert (endpoint_allow_check (allow, "tcp://localhost:65535"));

    cr_assert_not (endpoint_allow_check (allow, "tcp://10.0.0.1:5555"));
    cr_assert_not (endpoint_allow_check (allow, "tcp://127.0.0.2:5555"));
    cr_assert_not (endpoint_allow_check (allow, "tcp://localhost.evil.com:5555"));
    cr_assert_not (endpoint_allow_check (allow, "tcp://127.0.0.1:1;10.0.0.1:2"));
    cr_assert_not (endpoint_allow_check (allow, "tcp://10.0.0.1;127.0.0.1:2"));
    cr_assert_not (endpoint_allow_check (allow, "tcp://127.0.0.1:0"));
    cr_assert_not (endpoint_allow_check (allow, "udp://127.0.0.1:5555"));
    cr_assert_not (endpoint_allow_check (allow, ""));
    cr_assert_not (endpoint_allow_check (allow, NULL));
    endpoint_allow_destroy (&allow);
}

Test (endpoint_allow, wildcards_are_not_connectable)
{
    endpoint_allow_t *allow = s_default_allow ();
    endpoint_allow_add_host (allow, "*");       //  even if listed
    cr_assert_not (endpoint_allow_check (allow, "tcp://*:5555"));
    cr_assert_not (endpoint_allow_check (allow, "tcp://127.0.0.1:*"));
    cr_assert_not (endpoint_allow_check (allow, "tcp://localhost:*"));
    endpoint_allow_destroy (&allow);
}

Test (endpoint_allow, host_case_insensitive)
{
    endpoint_allow_t *allow = s_default_allow ();
    cr_assert (endpoint_allow_check (allow, "tcp://LOCALHOST:5555"));
    cr_assert (endpoint_allow_check (allow, "tcp://LocalHost:5555"));
    endpoint_allow_add_host (allow, "Node7.Example");
    cr_assert (endpoint_allow_check (allow, "tcp://node7.example:9000"));
    cr_assert (endpoint_allow_check (allow, "tcp://NODE7.EXAMPLE:9000"));
    endpoint_allow_add_host (allow, "FE80::1");
    cr_assert (endpoint_allow_check (allow, "tcp://[fe80::1]:9000"));
    endpoint_allow_destroy (&allow);
}

Test (endpoint_allow, bracketed_ipv6_host)
{
    endpoint_allow_t *allow = endpoint_allow_new ();
    endpoint_allow_add_host (allow, "[::1]");
    cr_assert (endpoint_allow_check (allow, "tcp://[::1]:5555"));
    endpoint_allow_destroy (&allow);
}

Test (endpoint_allow, duplicates_are_harmless)
{
    endpoint_allow_t *allow = endpoint_allow_new ();
    for (int count = 0; count < 5; count++)
        endpoint_allow_add_host (allow, "127.0.0.1");
    endpoint_allow_add_host (allow, "LOCALHOST");
    endpoint_allow_add_host (allow, "localhost");
    cr_assert (endpoint_allow_check (allow, "tcp://127.0.0.1:5"));
    cr_assert (endpoint_allow_check (allow, "tcp://localhost:5"));
    endpoint_allow_destroy (&allow);
}

Test (endpoint_allow, ipc_on_off)
{
    endpoint_allow_t *allow = s_default_allow ();
    cr_assert_not (endpoint_allow_check (allow, "ipc:///tmp/strata.sock"));
    endpoint_allow_set_ipc (allow, true);
    cr_assert (endpoint_allow_check (allow, "ipc:///tmp/strata.sock"));
    cr_assert_not (endpoint_allow_check (allow, "ipc://"), "still strictly parsed");
    cr_assert_not (endpoint_allow_check (allow, "ipc://a;b"));
    endpoint_allow_set_ipc (allow, false);
    cr_assert_not (endpoint_allow_check (allow, "ipc:///tmp/strata.sock"));
    //  ipc does not change tcp
    cr_assert_not (endpoint_allow_check (allow, "tcp://10.0.0.1:5555"));
    endpoint_allow_destroy (&allow);
}

Test (endpoint_allow, add_endpoint_host)
{
    endpoint_allow_t *allow = endpoint_allow_new ();
    cr_assert_not (endpoint_allow_check (allow, "tcp://10.0.0.7:5555"));
    cr_assert_eq (endpoint_allow_add_endpoint_host (allow, "tcp://10.0.0.7:8100"), 0);
    cr_assert (endpoint_allow_check (allow, "tcp://10.0.0.7:5555"), "any port on that host");
    cr_assert_not (endpoint_allow_check (allow, "tcp://10.0.0.8:5555"));

    cr_assert_eq (endpoint_allow_add_endpoint_host (allow, "tcp://[fd00::7]:8101"), 0);
    cr_assert (endpoint_allow_check (allow, "tcp://[fd00::7]:6000"));

    //  A bind wildcard adds nothing, but is a valid endpoint
    cr_assert_eq (endpoint_allow_add_endpoint_host (allow, "tcp://*:8100"), 0);
    cr_assert_not (endpoint_allow_check (allow, "tcp://*:8100"));
    //  ipc endpoints are valid, and do not switch ipc on
    cr_assert_eq (endpoint_allow_add_endpoint_host (allow, "ipc:///tmp/node.sock"), 0);
    cr_assert_not (endpoint_allow_check (allow, "ipc:///tmp/node.sock"));

    cr_assert_eq (endpoint_allow_add_endpoint_host (allow, "tcp://10.0.0.9"), -1);
    cr_assert_eq (endpoint_allow_add_endpoint_host (allow, "tcp://10.0.0.9:1;10.0.0.10:2"), -1);
    cr_assert_eq (endpoint_allow_add_endpoint_host (allow, NULL), -1);
    cr_assert_not (endpoint_allow_check (allow, "tcp://10.0.0.9:1"));
    endpoint_allow_destroy (&allow);
}
