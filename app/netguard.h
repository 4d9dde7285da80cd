/*
 * netguard.h — fetching a URL on behalf of a remote client (`aesthete serve --allow-urls`)
 * without letting that client reach the server's own network: every connection libcurl opens,
 * the first and those after redirects, is checked by its resolved address at connect time,
 * and loopback, private, link-local (cloud metadata), carrier-grade NAT, multicast and reserved
 * addresses are refused, also when written as IPv4-mapped, NAT64 or 6to4 IPv6. Checking the
 * connected address (not the host name) closes DNS-rebinding tricks; proxies from the
 * environment are ignored so that the check sees the real peer.
 */
#ifndef AE_APP_NETGUARD_H
#define AE_APP_NETGUARD_H

#include <curl/curl.h>
#include <sys/socket.h>

#include "fetch.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if a connection to this address must be refused, 0 if it is a public address. Unknown
 * address families are refused. */
int ae_netguard_blocked(const struct sockaddr *sa, socklen_t len);

/* The same from a numeric address string ("10.0.0.1", "::1"); refused (1) if not numeric. */
int ae_netguard_blocked_str(const char *addr);

/* The check as libcurl's CURLOPT_OPENSOCKETFUNCTION (ctx: an ae_netguard_state, zeroed; fetch.c
 * sets it for ae_fetch_params.public_only): a refused connection marks the state. */
typedef struct ae_netguard_state {
    int blocked;
    char addr[64]; /* the refused address, numeric */
} ae_netguard_state;
curl_socket_t ae_netguard_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a);

/* ae_fetch_url with the address check on every connection (public_only). A refused address gives
 * AE_ERR_INVALID and "URL: address A is not public (loopback, private, link-local or
 * reserved)". */
int ae_fetch_url_public(const char *url, const ae_fetch_params *params, ae_buffer *out);

#ifdef __cplusplus
}
#endif
#endif
