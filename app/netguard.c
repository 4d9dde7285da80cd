/*
 * netguard.c — see netguard.h. The transfer is a plain libcurl easy transfer with the limits
 * of ae_fetch_params (protocols, redirects, size, time, speed); CURLOPT_OPENSOCKETFUNCTION
 * sees the resolved address of every connection attempt and refuses the non-public ones
 * before a socket exists.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "netguard.h"

/* IPv4 in host order */
static int v4_blocked(uint32_t a)
{
    static const struct { uint32_t net; int bits; } nets[] = {
        {0x00000000, 8},  /* "this" network */
        {0x0a000000, 8},  /* private */
        {0x64400000, 10}, /* carrier-grade NAT (also Alibaba's metadata 100.100.100.200) */
        {0x7f000000, 8},  /* loopback */
        {0xa9fe0000, 16}, /* link-local, cloud metadata 169.254.169.254 */
        {0xac100000, 12}, /* private */
        {0xc0000000, 24}, /* IETF protocol assignments */
        {0xc0000200, 24}, /* TEST-NET-1 */
        {0xc0586300, 24}, /* 6to4 relay anycast */
        {0xc0a80000, 16}, /* private */
        {0xc6120000, 15}, /* benchmarking */
        {0xc6336400, 24}, /* TEST-NET-2 */
        {0xcb007100, 24}, /* TEST-NET-3 */
        {0xe0000000, 4},  /* multicast */
        {0xf0000000, 4},  /* reserved, broadcast */
    };
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++)
        if ((a >> (32 - nets[i].bits)) == (nets[i].net >> (32 - nets[i].bits))) return 1;
    return 0;
}

static uint32_t be32(const uint8_t *b) { return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]; }

static int v6_blocked(const uint8_t *b)
{
    static const uint8_t zero[16] = {0};
    if (!memcmp(b, zero, 15) && (b[15] == 0 || b[15] == 1)) return 1;   /* :: and ::1 */
    if (!memcmp(b, zero, 10) && b[10] == 0xff && b[11] == 0xff) return v4_blocked(be32(b + 12)); /* ::ffff:a.b.c.d */
    if (!memcmp(b, zero, 12)) return 1;                                  /* IPv4-compatible (deprecated) */
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b)    /* 64:ff9b::/96 NAT64 */
        return !memcmp(b + 4, zero, 8) ? v4_blocked(be32(b + 12)) : 1;
    if (b[0] == 0x20 && b[1] == 0x02) return v4_blocked(be32(b + 2));    /* 2002::/16 6to4 */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return 1; /* documentation */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00) return 1; /* Teredo */
    if ((b[0] & 0xfe) == 0xfc) return 1;                                 /* fc00::/7 unique local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return 1;                 /* fe80::/10 link-local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return 1;                 /* fec0::/10 site-local */
    if (b[0] == 0xff) return 1;                                          /* multicast */
    if ((b[0] & 0xe0) != 0x20) return 1;                                 /* outside global unicast 2000::/3 */
    return 0;
}

int ae_netguard_blocked(const struct sockaddr *sa, socklen_t len)
{
    if (!sa) return 1;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
        return v4_blocked(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
        return v6_blocked(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    return 1;
}

int ae_netguard_blocked_str(const char *addr)
{
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    memset(&a4, 0, sizeof a4), memset(&a6, 0, sizeof a6);
    if (addr && inet_pton(AF_INET, addr, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        return ae_netguard_blocked((struct sockaddr *)&a4, sizeof a4);
    }
    if (addr && inet_pton(AF_INET6, addr, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        return ae_netguard_blocked((struct sockaddr *)&a6, sizeof a6);
    }
    return 1;
}

curl_socket_t ae_netguard_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
    ae_netguard_state *g = ctx;
    if (purpose != CURLSOCKTYPE_IPCXN || ae_netguard_blocked(&a->addr, a->addrlen)) {
        g->blocked = 1;
        const void *raw = a->family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)&a->addr)->sin6_addr
                                                : (const void *)&((struct sockaddr_in *)&a->addr)->sin_addr;
        if (!inet_ntop(a->family, raw, g->addr, sizeof g->addr)) snprintf(g->addr, sizeof g->addr, "?");
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

int ae_fetch_url_public(const char *url, const ae_fetch_params *params, ae_buffer *out)
{
    ae_fetch_params p = params ? *params : ae_fetch_default_params();
    p.public_only = 1;
    return ae_fetch_url(url, &p, out);
}
