// The server's TLS certificate and key (PEM files, as certbot and most CAs hand them out),
// checked before roomcastd listens and reloaded on SIGHUP.
//
// Checked means: both files readable, each parses, and the key is the certificate's (GnuTLS
// refuses a mismatched pair, with which every handshake would fail). A reload that fails any
// check keeps the credentials in use, so a renewal gone wrong never takes the server off the air.
#pragma once

#include <gnutls/gnutls.h>

#include <memory>
#include <string>
#include <type_traits>

#include "core/result.h"

namespace roomcast::signaling {

// GnuTLS server credentials (the certificate chain and its key). Shared: a connection keeps the
// credentials it began with alive however long it lasts, across reloads.
using ServerCredentials = std::shared_ptr<std::remove_pointer_t<gnutls_certificate_credentials_t>>;

// Loads and checks a pair.
core::Result<ServerCredentials> loadServerCredentials(const std::string& certFile, const std::string& keyFile);

class TlsCredentials {
  // Only load() can make one, so only it constructs: the constructor is public for std::make_unique.
  struct Passkey {
    explicit Passkey() = default;
  };

 public:
  // Checks and loads the pair now (the first load decides whether roomcastd starts at all).
  static core::Result<std::unique_ptr<TlsCredentials>> load(const std::string& certFile, const std::string& keyFile);
  TlsCredentials(Passkey, std::string certFile, std::string keyFile, ServerCredentials current);

  // Reads the same files again: new connections get the new certificate; on failure the old
  // one stays and the reason comes back.
  core::Status reload();
  const ServerCredentials& current() const { return current_; }
  const std::string& certFile() const { return certFile_; }

 private:
  std::string certFile_;
  std::string keyFile_;
  ServerCredentials current_;
};

}  // namespace roomcast::signaling
