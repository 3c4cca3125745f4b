// RED in SDP (media/red_sdp.h): which offers get RED back, and how the answer says it.
#include "media/red_sdp.h"

#include <gtest/gtest.h>

#include <string>

#include "media/webrtc_util.h"

using roomcast::media::alignAnswerRed;
using roomcast::media::offeredRed;
using roomcast::media::parseSdp;

namespace {

std::string audio(const std::string& formats, const std::string& attributes) {
  return "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF " + formats +
         "\r\nc=IN IP4 0.0.0.0\r\n" + attributes;
}

const std::string kChromiumRed = "a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n";
const std::string kOpus = "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n";

struct Sdp {
  explicit Sdp(const std::string& text) : message(parseSdp(text)) {}
  ~Sdp() {
    if (message) gst_sdp_message_free(message);
  }
  std::string text() const {
    g_autofree char* t = gst_sdp_message_as_text(message);
    return t;
  }
  GstSDPMessage* message;
};

}  // namespace

TEST(RedSdp, ChromiumsRedForOpusIsTaken) {
  Sdp offer(audio("63 111", kChromiumRed + kOpus));
  auto red = offeredRed(offer.message, 111);
  ASSERT_TRUE(red);
  EXPECT_EQ(red->payloadType, 63);
  EXPECT_EQ(red->rtpmap, "63 red/48000/2");
  EXPECT_EQ(red->fmtp, "63 111/111");
}

TEST(RedSdp, RedOfAnotherCodecOrWithoutBlocksIsNot) {
  EXPECT_FALSE(offeredRed(Sdp(audio("111", kOpus)).message, 111)) << "no RED offered";
  EXPECT_FALSE(offeredRed(Sdp(audio("63 111 0", "a=rtpmap:63 red/48000/2\r\na=fmtp:63 0/0\r\n" + kOpus)).message, 111))
      << "RED of PCMU: the room decodes Opus only";
  EXPECT_FALSE(offeredRed(Sdp(audio("63 111", "a=rtpmap:63 red/48000/2\r\n" + kOpus)).message, 111))
      << "no fmtp: what it carries is unknown";
  EXPECT_FALSE(offeredRed(Sdp(audio("63 111", "a=rtpmap:63 red/8000\r\na=fmtp:63 111/111\r\n" + kOpus)).message, 111));
}

TEST(RedSdp, AnswerGetsRedFirstWithTheOffersRtpmapAndFmtp) {
  // As webrtcbin 1.22 writes it: after Opus, no channel count, no fmtp.
  Sdp answer(audio("111 63", kOpus + "a=rtpmap:63 red/48000\r\n"));
  Sdp offer(audio("63 111", kChromiumRed + kOpus));
  ASSERT_TRUE(alignAnswerRed(answer.message, *offeredRed(offer.message, 111)));
  const std::string text = answer.text();
  EXPECT_NE(text.find("m=audio 9 UDP/TLS/RTP/SAVPF 63 111\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("a=rtpmap:63 red/48000/2\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("a=fmtp:63 111/111\r\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("a=rtpmap:63 red/48000\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("a=fmtp:111 minptime=10;useinbandfec=1\r\n"), std::string::npos) << "Opus's own lines stay";
}

TEST(RedSdp, AnswerWithoutRedIsLeftAlone) {
  Sdp answer(audio("111", kOpus));
  const std::string before = answer.text();
  Sdp offer(audio("63 111", kChromiumRed + kOpus));
  EXPECT_FALSE(alignAnswerRed(answer.message, *offeredRed(offer.message, 111)));
  EXPECT_EQ(answer.text(), before);
}
