// Automated moderation: each speaker's transcript is classified against the operator's policy
// (data/moderation/policy.json: categories of terms with a severity), and each severity maps
// to an action (tell the host, mute the speaker, remove them), applied at once and logged
// with its evidence (the words and their span, and the room's last minutes of audio).
// Plain C++ on the control thread, beside RoomManager.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/events.h"
#include "core/room_manager.h"

namespace roomcast::core {

enum class Severity { Low, Medium, High };
enum class ModerationAction { Notify, Mute, Remove };

std::string_view severityName(Severity s);
std::string_view moderationActionName(ModerationAction a);
std::optional<Severity> severityFromName(std::string_view name);
std::optional<ModerationAction> moderationActionFromName(std::string_view name);

struct PolicyCategory {
  std::string name;
  Severity severity = Severity::Low;
  std::vector<std::string> terms;  // words or phrases, matched on word boundaries, any case
};

struct ModerationPolicy {
  std::vector<PolicyCategory> categories;
  std::map<Severity, ModerationAction> actions{
      {Severity::Low, ModerationAction::Notify}, {Severity::Medium, ModerationAction::Mute},
      {Severity::High, ModerationAction::Remove}};
};

struct Violation {
  std::string category;
  Severity severity = Severity::Low;
  ModerationAction action = ModerationAction::Notify;
  std::string term;
};

// The most severe category any of whose terms occurs in `text`.
std::optional<Violation> classify(const ModerationPolicy& policy, const std::string& text);

struct ModerationEnvironment {
  std::function<int64_t()> nowUnixMs;
  std::function<std::string(const std::string& roomId, const std::string& label)> keepEvidence;  // path or ""
  std::function<void(const std::string& roomId, const ModerationAlert&)> logged;
};

class Moderator {
 public:
  Moderator(RoomManager& rooms, RoomEventSink& events, ModerationPolicy policy, ModerationEnvironment env);
  // One utterance of a participant, as the recognizer heard it.
  void onTranscript(const std::string& roomId, const std::string& identity, const std::string& text, int64_t startMs,
                    int64_t endMs);
  const ModerationPolicy& policy() const { return policy_; }

 private:
  RoomManager& rooms_;
  RoomEventSink& events_;
  ModerationPolicy policy_;
  ModerationEnvironment env_;
};

}  // namespace roomcast::core
