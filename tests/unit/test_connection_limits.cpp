// Connection caps: per address, in total, and the descriptor line below the open-file limit.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include "signaling/connection_limits.h"

using roomcast::signaling::AddressCounts;
using roomcast::signaling::ConnectionPolicy;

TEST(AddressCounts, CapsEachAddressAndTheTotal) {
  AddressCounts counts(2, 5, {"127.0.0.1"});
  EXPECT_EQ(counts.add("192.0.2.1"), AddressCounts::Admit::Yes);
  EXPECT_EQ(counts.add("192.0.2.1"), AddressCounts::Admit::Yes);
  EXPECT_EQ(counts.add("192.0.2.1"), AddressCounts::Admit::AddressFull);
  EXPECT_EQ(counts.add("192.0.2.2"), AddressCounts::Admit::Yes);
  // Uncapped addresses count towards the total only.
  EXPECT_EQ(counts.add("127.0.0.1"), AddressCounts::Admit::Yes);
  EXPECT_EQ(counts.add("127.0.0.1"), AddressCounts::Admit::Yes);
  EXPECT_EQ(counts.add("127.0.0.1"), AddressCounts::Admit::TotalFull);
  EXPECT_EQ(counts.total(), 5u);
  counts.remove("192.0.2.1");
  EXPECT_EQ(counts.of("192.0.2.1"), 1u);
  EXPECT_EQ(counts.add("192.0.2.1"), AddressCounts::Admit::Yes);
  // A refused address leaves nothing behind.
  EXPECT_EQ(counts.add("198.51.100.7"), AddressCounts::Admit::TotalFull);
  EXPECT_EQ(counts.of("198.51.100.7"), 0u);
}

TEST(AddressCounts, ZeroMeansNoPerAddressCap) {
  AddressCounts counts(0, 0, {});
  for (int i = 0; i < 1000; i++) ASSERT_EQ(counts.add("192.0.2.1"), AddressCounts::Admit::Yes);
}

TEST(ConnectionLimits, TheRoomsKeepAReserveOfDescriptors) {
  using roomcast::signaling::descriptorCeiling;
  using roomcast::signaling::totalConnectionCap;
  EXPECT_EQ(descriptorCeiling(20000, 0), 15000u);  // a quarter kept
  EXPECT_EQ(descriptorCeiling(1024, 0), 768u);     // at least 256 kept
  EXPECT_EQ(descriptorCeiling(20000, 2000), 18000u);
  EXPECT_EQ(descriptorCeiling(100, 1000), 16u);    // a tiny limit still serves someone
  ConnectionPolicy policy;
  policy.maxTotal = 500;
  EXPECT_EQ(totalConnectionCap(policy, 20000), 500u);
  policy.maxTotal = 50000;
  EXPECT_EQ(totalConnectionCap(policy, 20000), 15000u);  // never past the descriptor line
}

TEST(ConnectionLimits, AddressKeysFoldMappedIpv4) {
  sockaddr_in6 mapped{};
  mapped.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::ffff:192.0.2.9", &mapped.sin6_addr);
  EXPECT_EQ(roomcast::signaling::addressKey(reinterpret_cast<sockaddr*>(&mapped), sizeof mapped), "192.0.2.9");
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.2", &v4.sin_addr);
  EXPECT_EQ(roomcast::signaling::addressKey(reinterpret_cast<sockaddr*>(&v4), sizeof v4), "127.0.0.2");
}
