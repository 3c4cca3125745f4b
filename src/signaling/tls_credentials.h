// The server's TLS certificate and key (PEM files, as certbot and most CAs hand them out),
// checked before roomcastd listens and reloaded on SIGHUP.
//
// Checked means: both files readable, each parses, and the key is the certificate's (GnuTLS
// compares them; GIO alone would accept a mismatched pair and every handshake would fail). A
// reload that fails any check keeps the certificate in use, so a renewal gone wrong never takes
// the server off the air.
#pragma once

#include <gio/gio.h>

#include <memory>
#include <string>

#include "core/result.h"

namespace roomcast::signaling {

// Loads and checks a pair; the certificate (with its key) on success. The caller owns it.
core::Result<GTlsCertificate*> loadTlsCertificate(const std::string& certFile, const std::string& keyFile);

class TlsCredentials {
 public:
  // Checks and loads the pair now (the first load decides whether roomcastd starts at all).
  static core::Result<std::unique_ptr<TlsCredentials>> load(const std::string& certFile, const std::string& keyFile);
  ~TlsCredentials();
  TlsCredentials(const TlsCredentials&) = delete;
  TlsCredentials& operator=(const TlsCredentials&) = delete;

  // Reads the same files again: new connections get the new certificate; on failure the old
  // one stays and the reason comes back.
  core::Status reload();
  GTlsCertificate* current() const { return certificate_; }  // borrowed; valid until the next reload
  const std::string& certFile() const { return certFile_; }

 private:
  TlsCredentials(std::string certFile, std::string keyFile, GTlsCertificate* certificate);
  std::string certFile_;
  std::string keyFile_;
  GTlsCertificate* certificate_;
};

}  // namespace roomcast::signaling
