#pragma once

#include <string>
#include <vector>

namespace roomcast::client {

struct SpeakOptions {
  std::vector<std::string> servers;  // http://host:port: one, or the nodes of a cluster (a reconnect moves on)
  double reconnectForSeconds = 30;   // how long a lost connection is tried again (0: never)
  std::string room;
  std::string token;
  double toneHz = 0;   // 0: use `file`
  double volume = 0.5; // of the tone: 1.0 is full scale
  std::string file;    // a WAV file to send (played in real time)
  double seconds = 10;
  std::string out;     // write what this speaker hears (their mix-minus) here
  bool raiseHand = false;  // join as a listener, raise the hand, pre-warm, speak once promoted
  std::string name;        // display name for --raise-hand (an anonymous listener token)
  bool plainRtp = false;   // plain RTP (the server must allow it) instead of WebRTC
  bool recordingOptOut = false;  // keep this voice out of the room's recording (not the live room)
  bool relayOnly = false;  // ICE through the welcome's TURN servers only (checks the relay path)
  int dropEvery = 0;       // > 1: drop every Nth RTP packet before it is sent (simulated loss)
};

// Joins as a WebRTC (or plain-RTP) speaker; returns the process exit code.
int runSpeak(const SpeakOptions& options);

}  // namespace roomcast::client
