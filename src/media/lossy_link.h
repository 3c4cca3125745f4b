// ICE and DTLS that connect on lossy links (issue 20), for the daemon's and the CLI's webrtcbin.
//
// Measured at 20 % random loss both ways (tests/integration/test_ice_loss.cpp) on GStreamer
// 1.22 / libnice 0.1.21 / OpenSSL 3.0 defaults: 9 speakers in 20 connected, the others were
// still handshaking at the server's deadline. Two things made it slow:
//  - DTLS: GStreamer's dtls elements leave OpenSSL's retransmission timer at its default, 1 s
//    doubling on every loss (1, 2, 4 s...), and a handshake is four flights, so one loss in
//    four flights costs a second and two cost three; the elements expose no way to change it.
//  - ICE: libnice 0.1.21's connectivity-check RTO is fixed at 500 ms and a check is sent 4
//    times (stun-max-retransmissions 3), so a pair unlucky four times fails after 4.5 s.
// What this does about it:
//  - every DTLS handshake datagram (record types change_cipher_spec and handshake) is sent
//    three times in a row: a receiver drops the extra copies (same record sequence number:
//    DTLS replay detection), and a flight is lost only if all three copies are (0.8 % at 20 %
//    loss, instead of 20 %), so the 1 s timer almost never runs out;
//  - each check is sent up to 6 times (0, 0.5, 1.5, 3.5, 7.5 s...) before its pair fails.
#pragma once

#include <gst/gst.h>

namespace roomcast::media {

// Copies of each DTLS handshake datagram sent (the original included).
inline constexpr int kDtlsHandshakeCopies = 3;
// libnice's stun-max-retransmissions for connectivity checks (its default is 3).
inline constexpr unsigned kIceCheckRetransmissions = 5;

// Applies both to a webrtcbin before negotiation starts (its transports may not exist yet:
// their ICE sinks are caught as webrtcbin adds them).
void prepareForLossyLinks(GstElement* webrtcbin);

// Whether a datagram is a DTLS change_cipher_spec or handshake record (RFC 7983: the first
// byte tells DTLS, 20..63, from STUN, 0..3, and RTP/RTCP, 128..191).
bool isDtlsHandshake(const guint8* data, gsize size);

}  // namespace roomcast::media
