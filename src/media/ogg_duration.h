// How long an Ogg/Opus file plays, from its pages (no decoding): the last page's granule
// position minus where the audio starts (the first audio page, which is not 0 for a recording
// started mid-room) and the pre-skip, at 48 kHz. Works on files cut off mid-write (a crash), where
// it gives the length up to the last complete page.
#pragma once

#include <optional>
#include <string>

namespace roomcast::media {

std::optional<double> oggOpusDurationSeconds(const std::string& path);

}  // namespace roomcast::media
