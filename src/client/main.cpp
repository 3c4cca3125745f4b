// roomcast: the command-line client.
//
//   roomcast [--server URL] create --title T [--topic P] [--record]
//   roomcast [--server URL] speak ROOM --token TOKEN (--tone HZ | --file F.wav) [--seconds N] [--out F.wav]
//   roomcast [--server URL] listen ROOM [--seconds N] [--out F.wav]
//   roomcast [--server URL] token ROOM --role speaker --name NAME --token HOST_TOKEN
//   roomcast [--server URL] end ROOM --token HOST_TOKEN
//   roomcast [--server URL] record ROOM (start | stop) --token HOST_TOKEN
//   roomcast [--server URL] chat ROOM [--token TOKEN] (--send TEXT | --history)
//   roomcast [--server URL] rooms | recordings | delete-recording ID | admin-token [--grants G,G] [--ttl S]
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "client/chat.h"
#include "client/credentials.h"
#include "client/listen.h"
#include "client/reconnecting_socket.h"
#include "client/rest_client.h"
#include "client/speak.h"
#include "protocol/json.h"
#include "media/webrtc_util.h"

using namespace roomcast::client;
using roomcast::protocol::JsonWriter;

namespace {

constexpr const char* kUsage =
    "usage: roomcast [--server URL] [--ca-file CA.pem] COMMAND ...\n"
    "  create --title T [--topic P] [--record]      open a room, print its JSON (with host_token)\n"
    "  speak ROOM (--token TOKEN | --raise-hand --name NAME) (--tone HZ | --file F.wav) [--seconds N] [--out F.wav]\n"
    "                                               join as a WebRTC speaker for N seconds once connected\n"
    "                                               (prints \"connected\"); --out writes what you hear\n"
    "                                               --raise-hand: join as a listener, pre-warm, speak once promoted\n"
    "                                               --volume V: tone amplitude, 1 = full scale (default 0.5)\n"
    "                                               --plain-rtp: plain RTP instead of WebRTC (if the server allows it)\n"
    "                                               --recording-opt-out: keep this voice out of the recording\n"
    "                                               --drop-every N: lose every Nth packet sent (try loss recovery)\n"
    "                                               --relay-only: reach the room only through the server's TURN relays\n"
    "                                               --reconnect-for S: a lost connection is opened again (with the\n"
    "                                               resume token, on the next --server after a failure) for up to S\n"
    "                                               seconds (default 30; 0: never), printing \"reconnecting: WHY\" and\n"
    "                                               \"reconnected\"; the audio comes back on a new WebRTC session\n"
    "  listen ROOM [--seconds N] [--out F.wav] [--rendition auto|main|low]\n"
    "                                               hear the room over HLS like a listener (counted)\n"
    "  token ROOM --role ROLE --name NAME --token HOST_TOKEN\n"
    "                                               print a token for a speaker, co-host or listener\n"
    "  promote|demote|invite|mute|unmute|remove ROOM NAME --token HOST_TOKEN\n"
    "                                               run the stage (NAME: display name or identity)\n"
    "  end ROOM --token HOST_TOKEN                  end the room (finishes HLS and the recording)\n"
    "  record ROOM start|stop --token HOST_TOKEN    start or stop recording the room (everyone is told)\n"
    "  chat ROOM [--token TOKEN] --send TEXT        send a chat message (anonymous listener without a token)\n"
    "  chat ROOM --history                          print the recent chat, one \"name: text\" per line\n"
    "  rooms                                        every live room with its numbers (admin API)\n"
    "  end ROOM                                     without a host token: end any room (admin API)\n"
    "  recordings                                   the archive (JSON)\n"
    "  delete-recording ID                          take an ended recording out of the archive (admin API)\n"
    "  admin-token [--grants room_create,room_admin,archive] [--ttl S]\n"
    "                                               print an admin token (for the web app's archive)\n"
    "Credentials from the environment, so they stay out of ps: ROOMCAST_API_KEY and\n"
    "ROOMCAST_API_SECRET (an admin token valid 5 minutes is minted for create and the admin\n"
    "commands), ROOMCAST_TOKEN (a room token for --token, or an admin token).\n"
    "speak prints \"connected\" when the room's audio arrives, \"speaking\"/\"promoted\" when its\n"
    "time starts, and every room event as a line \"event: {json}\". Exit codes: 0 done, 1 failure,\n"
    "2 usage, 3 removed by the host (1 also when a lost connection did not come back).\n"
    "--server may list several URLs, comma-separated (the nodes of a cluster): speak moves on to the\n"
    "next when one fails; the other commands use the first. The server defaults to\n"
    "http://127.0.0.1:8080. For an https:// server, --ca-file (else $SSL_CERT_FILE, else the\n"
    "system's CAs) says which certificates to trust.\n";

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;
  std::vector<std::string> flags;
  bool has(const std::string& f) const {
    for (const auto& x : flags) if (x == f) return true;
    return false;
  }
  std::string get(const std::string& k, const std::string& fallback = "") const {
    auto it = values.find(k);
    return it == values.end() ? fallback : it->second;
  }
};

[[noreturn]] void usageError(const std::string& message) {
  fprintf(stderr, "roomcast: %s\n%s", message.c_str(), kUsage);
  exit(2);
}

Args parse(int argc, char** argv, const std::vector<std::string>& valueOptions, const std::vector<std::string>& flagOptions) {
  Args args;
  for (int i = 0; i < argc; i++) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0) {
      std::string name = a.substr(2);
      if (const auto eq = name.find('='); eq != std::string::npos) {
        args.values[name.substr(0, eq)] = name.substr(eq + 1);
        continue;
      }
      bool isValue = false, isFlag = false;
      for (const auto& v : valueOptions) isValue |= v == name;
      for (const auto& f : flagOptions) isFlag |= f == name;
      if (isFlag) args.flags.push_back(name);
      else if (isValue) {
        if (i + 1 >= argc) usageError("--" + name + " needs a value");
        args.values[name] = argv[++i];
      } else usageError("unknown option --" + name);
    } else {
      args.positional.push_back(a);
    }
  }
  return args;
}

double parseSeconds(const Args& a) {
  const std::string text = a.get("seconds", "10");
  char* end = nullptr;
  const double s = strtod(text.c_str(), &end);
  if (!end || *end || s <= 0 || s > 24 * 3600) usageError("--seconds must be a positive number");
  return s;
}

// One REST call; prints the response body on success, the server's error otherwise.
int callAndPrint(const char* method, const std::string& url, const std::string& body, const std::string& token,
                 int expectedStatus) {
  g_autoptr(SoupSession) session = soup_session_new();
  HttpResult r = httpRequest(session, method, url, body, token);
  if (r.status != expectedStatus) {
    fprintf(stderr, "roomcast: %s\n", describeFailure(r).c_str());
    return 1;
  }
  printf("%s\n", r.body.c_str());
  return 0;
}

// The admin token for a command, or exit 1 saying why there is none.
std::string requireAdminToken(const char* what, roomcast::protocol::AdminGrants grants = allGrants()) {
  std::string error;
  std::string token = adminToken(grants, error);
  if (token.empty()) {
    fprintf(stderr, "roomcast: %s needs an admin token: %s\n", what,
            error.empty() ? "set ROOMCAST_API_KEY and ROOMCAST_API_SECRET, or ROOMCAST_TOKEN" : error.c_str());
    exit(1);
  }
  return token;
}

int cmdCreate(const std::string& server, const Args& a) {
  if (a.get("title").empty()) usageError("create needs --title");
  JsonWriter w;
  w.beginObject().str("title", a.get("title")).str("topic", a.get("topic")).boolean("record", a.has("record")).endObject();
  // Servers with open rooms ignore it; the others need its room_create grant.
  std::string error;
  const std::string admin = adminToken(allGrants(), error);
  if (!error.empty()) fprintf(stderr, "roomcast: %s\n", error.c_str());
  return callAndPrint("POST", server + "/api/v1/rooms", w.finish(), admin, 201);
}

int cmdEnd(const std::string& server, const Args& a) {
  if (a.positional.size() != 1) usageError("end needs ROOM (and --token HOST_TOKEN, or operator credentials)");
  if (!a.get("token").empty())
    return callAndPrint("DELETE", server + "/api/v1/rooms/" + a.positional[0], {}, a.get("token"), 200);
  return callAndPrint("DELETE", server + "/api/v1/admin/rooms/" + a.positional[0], {}, requireAdminToken("end"), 200);
}

int cmdAdminToken(const Args& a) {
  roomcast::protocol::AdminGrants grants = allGrants();
  if (!a.get("grants").empty()) {
    grants = {};
    g_auto(GStrv) names = g_strsplit(a.get("grants").c_str(), ",", -1);
    for (char** n = names; *n; n++) {
      const std::string name = g_strstrip(*n);
      if (name == "room_create") grants.roomCreate = true;
      else if (name == "room_admin") grants.roomAdmin = true;
      else if (name == "archive") grants.archive = true;
      else usageError("unknown grant '" + name + "' (room_create, room_admin, archive)");
    }
  }
  const double ttl = atof(a.get("ttl", "3600").c_str());
  if (ttl < 1 || ttl > 30 * 86400) usageError("--ttl must be 1..2592000 seconds");
  if (!g_getenv("ROOMCAST_API_KEY") || !g_getenv("ROOMCAST_API_SECRET"))
    usageError("admin-token needs ROOMCAST_API_KEY and ROOMCAST_API_SECRET");
  std::string error;
  const std::string token = adminToken(grants, error, static_cast<int64_t>(ttl));
  if (token.empty()) {
    fprintf(stderr, "roomcast: %s\n", error.c_str());
    return 1;
  }
  printf("%s\n", token.c_str());
  return 0;
}

int cmdRecord(const std::string& server, const Args& a) {
  if (a.positional.size() != 2 || (a.positional[1] != "start" && a.positional[1] != "stop") || a.get("token").empty())
    usageError("record needs ROOM, start or stop, and --token HOST_TOKEN");
  JsonWriter w;
  w.beginObject().boolean("active", a.positional[1] == "start").endObject();
  return callAndPrint("POST", server + "/api/v1/rooms/" + a.positional[0] + "/recording", w.finish(), a.get("token"),
                      200);
}

int cmdToken(const std::string& server, const Args& a) {
  if (a.positional.size() != 1 || a.get("token").empty() || a.get("name").empty())
    usageError("token needs ROOM, --name and --token HOST_TOKEN");
  JsonWriter w;
  w.beginObject().str("role", a.get("role", "speaker")).str("name", a.get("name")).endObject();
  return callAndPrint("POST", server + "/api/v1/rooms/" + a.positional[0] + "/tokens", w.finish(), a.get("token"), 201);
}

int cmdModerate(const std::string& server, const std::string& action, const Args& a) {
  if (a.positional.size() != 2 || a.get("token").empty()) usageError(action + " needs ROOM NAME and --token HOST_TOKEN");
  JsonWriter w;
  w.beginObject().str("action", action).str("name", a.positional[1]).endObject();
  return callAndPrint("POST", server + "/api/v1/rooms/" + a.positional[0] + "/moderation", w.finish(), a.get("token"),
                      200);
}

// An anonymous listener token (rooms allow anonymous listeners).
std::string listenerToken(const std::string& server, const std::string& room, const std::string& name) {
  JsonWriter w;
  w.beginObject().str("role", "listener").str("name", name).endObject();
  g_autoptr(SoupSession) session = soup_session_new();
  HttpResult r = httpRequest(session, "POST", server + "/api/v1/rooms/" + room + "/tokens", w.finish());
  if (r.status != 201) {
    fprintf(stderr, "roomcast: %s\n", describeFailure(r).c_str());
    return {};
  }
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!json_parser_load_from_data(parser, r.body.c_str(), -1, nullptr)) return {};
  return json_object_get_string_member_with_default(json_node_get_object(json_parser_get_root(parser)), "token", "");
}

int cmdSpeak(const std::vector<std::string>& servers, const Args& a) {
  if (a.positional.size() != 1) usageError("speak needs ROOM");
  SpeakOptions o;
  o.servers = servers;
  o.room = a.positional[0];
  o.raiseHand = a.has("raise-hand");
  o.plainRtp = a.has("plain-rtp");
  o.recordingOptOut = a.has("recording-opt-out");
  o.relayOnly = a.has("relay-only");
  o.name = a.get("name");
  o.token = a.get("token");
  if (o.raiseHand && o.token.empty()) {
    if (o.name.empty()) usageError("--raise-hand needs --name (or a --token)");
    o.token = listenerToken(servers[0], o.room, o.name);
    if (o.token.empty()) return 1;
  }
  if (o.token.empty()) usageError("speak needs --token, or --raise-hand --name NAME");
  o.file = a.get("file");
  o.toneHz = a.get("tone").empty() ? 0 : atof(a.get("tone").c_str());
  if ((o.toneHz > 0) == !o.file.empty()) usageError("speak needs exactly one of --tone HZ or --file F.wav");
  if (!a.get("tone").empty() && (o.toneHz < 20 || o.toneHz > 20000)) usageError("--tone must be 20..20000 Hz");
  o.seconds = parseSeconds(a);
  o.out = a.get("out");
  o.volume = atof(a.get("volume", "0.5").c_str());
  if (o.volume <= 0 || o.volume > 1) usageError("--volume must be in (0, 1] (1 is full scale)");
  o.dropEvery = atoi(a.get("drop-every", "0").c_str());
  if (o.dropEvery != 0 && o.dropEvery < 2) usageError("--drop-every must be 2 or more");
  const std::string reconnectFor = a.get("reconnect-for", "30");
  char* end = nullptr;
  o.reconnectForSeconds = strtod(reconnectFor.c_str(), &end);
  if (!end || *end || !(o.reconnectForSeconds >= 0 && o.reconnectForSeconds <= 3600))
    usageError("--reconnect-for must be 0..3600 seconds");
  roomcast::media::warmUpDtlsCertificate();
  return runSpeak(o);
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  std::string server = "http://127.0.0.1:8080";
  std::string caFile;
  int i = 1;
  for (; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--server" && i + 1 < argc) server = argv[++i];
    else if (a.rfind("--server=", 0) == 0) server = a.substr(9);
    else if (a == "--ca-file" && i + 1 < argc) caFile = argv[++i];
    else if (a.rfind("--ca-file=", 0) == 0) caFile = a.substr(10);
    else if (a == "--help" || a == "-h") { fputs(kUsage, stdout); return 0; }
    else break;
  }
  const std::vector<std::string> servers = splitServers(server);
  if (servers.empty()) usageError("--server needs a URL");
  server = servers[0];
  if (!setTrustedCaFile(caFile)) return 1;
  if (i >= argc) usageError("missing command");
  const std::string command = argv[i++];
  const int rest = argc - i;
  char** restv = argv + i;

  // --token, else ROOMCAST_TOKEN when it is a room token.
  auto withToken = [](Args a) {
    if (std::string token = roomToken(a.get("token")); !token.empty()) a.values["token"] = token;
    return a;
  };
  if (command == "create") return cmdCreate(server, parse(rest, restv, {"title", "topic"}, {"record"}));
  if (command == "token") return cmdToken(server, withToken(parse(rest, restv, {"token", "role", "name"}, {})));
  if (command == "end") return cmdEnd(server, withToken(parse(rest, restv, {"token"}, {})));
  if (command == "record") return cmdRecord(server, withToken(parse(rest, restv, {"token"}, {})));
  for (const char* action : {"promote", "demote", "invite", "mute", "unmute", "remove"})
    if (command == action) return cmdModerate(server, command, withToken(parse(rest, restv, {"token"}, {})));
  if (command == "rooms") {
    if (!parse(rest, restv, {}, {}).positional.empty()) usageError("rooms takes no arguments");
    return callAndPrint("GET", server + "/api/v1/admin/rooms", {}, requireAdminToken("rooms"), 200);
  }
  if (command == "recordings") {
    if (!parse(rest, restv, {}, {}).positional.empty()) usageError("recordings takes no arguments");
    std::string error;  // a public archive needs none
    return callAndPrint("GET", server + "/api/v1/recordings", {}, adminToken(allGrants(), error), 200);
  }
  if (command == "delete-recording") {
    Args a = parse(rest, restv, {}, {});
    if (a.positional.size() != 1) usageError("delete-recording needs the recording's ID (see recordings)");
    return callAndPrint("DELETE", server + "/api/v1/admin/recordings/" + a.positional[0], {},
                        requireAdminToken("delete-recording"), 200);
  }
  if (command == "admin-token") return cmdAdminToken(parse(rest, restv, {"grants", "ttl"}, {}));
  if (command == "speak")
    return cmdSpeak(servers, withToken(parse(rest, restv,
                                             {"token", "tone", "file", "seconds", "out", "name", "volume", "drop-every",
                                              "reconnect-for"},
                                             {"raise-hand", "plain-rtp", "recording-opt-out", "relay-only"})));
  if (command == "chat") {
    Args a = withToken(parse(rest, restv, {"token", "send"}, {"history"}));
    if (a.positional.size() != 1) usageError("chat needs ROOM");
    ChatOptions o{server, a.positional[0], a.get("token"), a.get("send"), a.has("history")};
    if (o.send.empty() == !o.history) usageError("chat needs exactly one of --send TEXT and --history");
    return runChat(o);
  }
  if (command == "listen") {
    Args a = parse(rest, restv, {"seconds", "out", "rendition"}, {});
    if (a.positional.size() != 1) usageError("listen needs ROOM");
    ListenOptions o{server, a.positional[0], parseSeconds(a), a.get("out"), a.get("rendition", "auto")};
    if (o.rendition != "auto" && o.rendition != "main" && o.rendition != "low")
      usageError("--rendition must be auto, main or low");
    return runListen(o);
  }
  usageError("unknown command '" + command + "'");
}
