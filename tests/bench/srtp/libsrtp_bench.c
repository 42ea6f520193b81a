/* libsrtp 2 (the SRTP library of rtpengine, Asterisk and FreeSWITCH) protecting and unprotecting the
 * same packets as media/benches/srtp.rs: a 12-byte header and 160 bytes of payload, one sender and one
 * receiver context with the same key, for AES_CM_128_HMAC_SHA1_80 and _32. Prints ns per
 * protect+unprotect pair. Built and run by tests/bench/srtp/compare.sh. */
#include <srtp2/srtp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static void run(const char *name, void (*set_policy)(srtp_crypto_policy_t *)) {
    uint8_t key[30];
    for (int i = 0; i < 30; i++) key[i] = (uint8_t)i;
    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    set_policy(&policy.rtp);
    srtp_crypto_policy_set_rtcp_default(&policy.rtcp);
    policy.key = key;
    policy.window_size = 128;
    policy.ssrc.type = ssrc_any_outbound;
    srtp_t tx, rx;
    if (srtp_create(&tx, &policy) != srtp_err_status_ok) { fprintf(stderr, "tx\n"); return; }
    policy.ssrc.type = ssrc_any_inbound;
    if (srtp_create(&rx, &policy) != srtp_err_status_ok) { fprintf(stderr, "rx\n"); return; }
    const int rounds = 2000000;
    uint8_t buf[256];
    uint16_t seq = 0;
    double start = now_ns();
    for (int i = 0; i < rounds; i++) {
        memset(buf, 0x55, 172);
        uint8_t head[12] = {0x80, 0, 0, 0, 0, 0, 0, 160, 0xca, 0xfe, 0xba, 0xbe};
        memcpy(buf, head, 12);
        seq++;
        buf[2] = seq >> 8;
        buf[3] = seq & 0xff;
        int len = 172;
        if (srtp_protect(tx, buf, &len) != srtp_err_status_ok) { fprintf(stderr, "protect\n"); return; }
        if (srtp_unprotect(rx, buf, &len) != srtp_err_status_ok) { fprintf(stderr, "unprotect\n"); return; }
    }
    double ns = (now_ns() - start) / rounds;
    printf("libsrtp %s: %.0f ns per protect+unprotect\n", name, ns);
    srtp_dealloc(tx);
    srtp_dealloc(rx);
}

int main(void) {
    if (srtp_init() != srtp_err_status_ok) return 1;
    run("AES_CM_128_HMAC_SHA1_80", srtp_crypto_policy_set_rtp_default);
    run("AES_CM_128_HMAC_SHA1_32", srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32);
    return 0;
}
