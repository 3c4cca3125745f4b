#include "core/moderator.h"

#include <cctype>

#include "core/permissions.h"

namespace roomcast::core {

std::string_view severityName(Severity s) {
  switch (s) {
    case Severity::Low: return "low";
    case Severity::Medium: return "medium";
    case Severity::High: return "high";
  }
  return "?";
}

std::string_view moderationActionName(ModerationAction a) {
  switch (a) {
    case ModerationAction::Notify: return "notify";
    case ModerationAction::Mute: return "mute";
    case ModerationAction::Remove: return "remove";
  }
  return "?";
}

std::optional<Severity> severityFromName(std::string_view name) {
  if (name == "low") return Severity::Low;
  if (name == "medium") return Severity::Medium;
  if (name == "high") return Severity::High;
  return std::nullopt;
}

std::optional<ModerationAction> moderationActionFromName(std::string_view name) {
  if (name == "notify") return ModerationAction::Notify;
  if (name == "mute") return ModerationAction::Mute;
  if (name == "remove") return ModerationAction::Remove;
  return std::nullopt;
}

namespace {

// " word word " in lower case, letters and digits only: terms match on word boundaries.
std::string normalized(const std::string& text) {
  std::string out = " ";
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '\'') out += static_cast<char>(std::tolower(c));
    else if (out.back() != ' ') out += ' ';
  }
  if (out.back() != ' ') out += ' ';
  return out;
}

}  // namespace

std::optional<Violation> classify(const ModerationPolicy& policy, const std::string& text) {
  const std::string haystack = normalized(text);
  std::optional<Violation> worst;
  for (const auto& category : policy.categories) {
    for (const auto& term : category.terms) {
      const std::string needle = normalized(term);
      if (needle.size() <= 2 || haystack.find(needle) == std::string::npos) continue;
      if (!worst || category.severity > worst->severity) {
        auto action = policy.actions.find(category.severity);
        worst = Violation{category.name, category.severity,
                          action == policy.actions.end() ? ModerationAction::Notify : action->second, term};
      }
      break;
    }
  }
  return worst;
}

Moderator::Moderator(RoomManager& rooms, RoomEventSink& events, ModerationPolicy policy, ModerationEnvironment env)
    : rooms_(rooms), events_(events), policy_(std::move(policy)), env_(std::move(env)) {}

void Moderator::onTranscript(const std::string& roomId, const std::string& identity, const std::string& text,
                             int64_t startMs, int64_t endMs) {
  const Room* room = rooms_.find(roomId);
  if (!room) return;
  auto who = room->participants.find(identity);
  if (who == room->participants.end()) return;
  auto violation = classify(policy_, text);
  if (!violation) return;

  ModerationAlert alert;
  alert.identity = identity;
  alert.name = who->second.name;
  alert.category = violation->category;
  alert.severity = std::string(severityName(violation->severity));
  alert.snippet = text;
  alert.spanStartMs = startMs;
  alert.spanEndMs = endMs;
  if (env_.keepEvidence) alert.evidencePath = env_.keepEvidence(roomId, "moderation");

  // The policy acts as the room's host would; it never acts on the host.
  const Actor system{"roomcast-moderation", Role::Host};
  ModerationAction taken = violation->action;
  Status done = Ok{};
  if (taken == ModerationAction::Mute) done = rooms_.setMuted(roomId, system, identity, true);
  if (taken == ModerationAction::Remove) done = rooms_.remove(roomId, system, identity);
  if (!done) taken = ModerationAction::Notify;  // e.g. the host, or a listener with no stage to leave
  alert.action = std::string(moderationActionName(taken));

  if (env_.logged) env_.logged(roomId, alert);
  if (const Room* still = rooms_.find(roomId))
    for (const auto& [id, p] : still->participants)
      if (permits(p.role, Action::ReadReports)) events_.sendTo(roomId, id, ModerationAlert(alert));
}

}  // namespace roomcast::core
