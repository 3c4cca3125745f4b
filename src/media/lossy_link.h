// ICE and DTLS that connect on lossy links (issue 20), for the daemon's and the CLI's webrtcbin.
//
// Measured at 20 % random loss both ways on the speaker's link (tests/integration/
// test_ice_loss.cpp; GStreamer 1.22, libnice 0.1.21, OpenSSL 3.0): 8 CLI speakers in 20
// connected before a 6 s deadline. DTLS was most of it: GStreamer's dtls elements leave
// OpenSSL's retransmission timer at its default, 1 s doubling on every loss (1, 2, 4 s...),
// they offer no way to change it, and a handshake is four flights, each lost at 20 %+.
// So every DTLS handshake datagram (record types change_cipher_spec and handshake) is sent
// three times in a row: a receiver drops the extra copies (same record sequence number: DTLS
// replay detection), and a flight is lost only if all its copies are (0.8 % at 20 % loss,
// instead of 20 %), so the 1 s timer almost never runs out. With it, 18 to 20 in 20 first
// sessions (four runs: 20, 20, 19, 18), ICE and DTLS median 0.7-0.8 s.
//
// What is left is ICE's own: libnice 0.1.21's check RTO is max(500 ms, Ta × pairs) and doubles
// (a check goes at 0, 0.5, 1.5, 3.5 s; agent/conncheck.c, priv_compute_conncheck_timer: its
// `stun-initial-timeout` property does not apply to checks), and with regular nomination
// (webrtcbin's, fixed at construction) the controlling side needs one more such round trip
// with USE-CANDIDATE before it may send. More retransmissions (stun-max-retransmissions 5) did
// not help and hurt: a UDP pair that never answers then holds back nominating a working ICE-TCP
// pair for ~10 s instead of 4.5 s (measured: no UDP at all, ICE-TCP connected in 2.4 s with the
// default 3, not within 6 s with 5), so libnice's default stays. The CLI covers that tail
// instead: a session not connected after 3 s is replaced (src/client/speak.cpp).
#pragma once

#include <gst/gst.h>

namespace roomcast::media {

// Copies of each DTLS handshake datagram sent (the original included).
inline constexpr int kDtlsHandshakeCopies = 3;

// Applies it to a webrtcbin before negotiation starts (its transports may not exist yet:
// their ICE sinks are caught as webrtcbin adds them).
void prepareForLossyLinks(GstElement* webrtcbin);

// Whether a datagram is a DTLS change_cipher_spec or handshake record (RFC 7983: the first
// byte tells DTLS, 20..63, from STUN, 0..3, and RTP/RTCP, 128..191).
bool isDtlsHandshake(const guint8* data, gsize size);

}  // namespace roomcast::media
