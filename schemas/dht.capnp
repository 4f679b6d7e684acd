# The DHT protocol: Kademlia over UDP, hivemind's RPCs (ping, store, find).
#
# Every UDP datagram is exactly one DhtMessage in the standard Cap'n Proto
# serialization (unpacked; segment table first, as capnp::writeMessage
# writes it), with no other framing. A request and its response carry the
# same requestId; a response is accepted only from the address the request
# was sent to. A node drops, counts and otherwise ignores any datagram that
# does not decode as a DhtMessage within these limits: at most 65507 bytes
# (smaller when the node is configured so), node ids of exactly 20 bytes,
# at most 64 keys per find and 64 items per store.
#
# Ids are 160 bits, big-endian in 20 bytes: a node's is random, a key's is
# the SHA-1 of the key's bytes. Times are "DHT time": seconds since the Unix
# epoch (UTC) as a Float64; expirations are absolute DHT times.
#
# Version: a node that cannot answer a message's union variant drops it, so
# new variants can be added without breaking old nodes.
@0x96ff72a776c29274;

$import "/capnp/c++.capnp".namespace("hm::wire");

struct DhtMessage {
  requestId @0 :UInt64;
  # Chosen by the requester (random, never reused while pending); the
  # response carries the same one.

  senderId @1 :Data;
  # The sender's node id (20 bytes). The receiver adds the sender to its
  # routing table when senderPort is not 0.

  senderPort @2 :UInt16;
  # The UDP port the sender listens on, reached at the datagram's source IP.
  # 0 marks a client (for example `hm-dht get`) that must not be added to
  # routing tables: it only asks.

  dhtTime @3 :Float64;
  # The sender's clock when it sent this message. A node flags a peer whose
  # clock differs from its own by more than 3 seconds.

  union {
    pingRequest @4 :Void;
    # Are you alive? Answered by pingResponse.

    pingResponse @5 :DhtPingResponse;

    storeRequest @6 :DhtStoreRequest;
    # Store a batch of records. Answered by storeResponse.

    storeResponse @7 :DhtStoreResponse;

    findRequest @8 :DhtFindRequest;
    # For a batch of keys: the value if stored here, and the nearest peers
    # this node knows. Answered by findResponse.

    findResponse @9 :DhtFindResponse;
  }
}

struct DhtPeer {
  # A peer as one node tells another about it.

  id @0 :Data;
  # The peer's node id (20 bytes).

  ip @1 :Data;
  # Its IP address in network byte order: 4 bytes (IPv4) or 16 (IPv6).

  port @2 :UInt16;
  # Its UDP port.
}

struct DhtPingResponse {
  yourAddress @0 :DhtPeer;
  # The requester as the responder sees it: the responder's routing-table
  # entry for it (id from senderId, ip and port from the datagram's source).
  # Lets a node learn its address as others see it.
}

struct DhtSubkeyEntry {
  # One entry of a dictionary value.

  subkey @0 :Data;
  # The subkey's bytes (any, including empty).

  value @1 :Data;
  # The value's bytes.

  expiration @2 :Float64;
  # When this entry expires (absolute DHT time); each subkey has its own.
}

struct DhtStoreItem {
  # One record to store: a regular value, one subkey of a dictionary, or a
  # whole dictionary (sent on handoff to a new replica and when caching).

  key @0 :Data;
  # The key's id (20 bytes).

  expiration @1 :Float64;
  # For `regular` and `subkey`: when the value expires (absolute DHT time).
  # Ignored for `dictionary`, whose entries carry their own.

  inCache @2 :Bool;
  # True: put it in the receiver's cache (bounded, for popular keys) rather
  # than its storage.

  union {
    regular @3 :Data;
    # A plain value: replaces the stored one only if `expiration` is later.

    subkey @4 :DhtSubkeyEntry;
    # One subkey of a dictionary value (its `expiration` field is used, the
    # item's is ignored): merged into the stored dictionary, replacing that
    # subkey only if later.

    dictionary @5 :List(DhtSubkeyEntry);
    # A whole dictionary, merged entry by entry as `subkey` is.
  }
}

struct DhtStoreRequest {
  items @0 :List(DhtStoreItem);
  # At most 64 records, at most 65507 bytes in all (one datagram).
}

struct DhtStoreResponse {
  accepted @0 :List(Bool);
  # One per request item, in order: true when stored; false when refused
  # (not newer than what is there, expired, or over a bound). For a
  # dictionary, true only when every entry was taken.
}

struct DhtFindRequest {
  keys @0 :List(Data);
  # Key ids (20 bytes each), at most 64 (nodes ask 16 at a time by default).
}

struct DhtFindResult {
  # The answer for one key.

  union {
    notFound @0 :Void;
    # Nothing stored under this key here (or only expired records).

    regular @1 :Data;
    # A plain value.

    dictionary @2 :List(DhtSubkeyEntry);
    # A dictionary value: its live entries.

    omitted @3 :Void;
    # A value is stored but did not fit in this datagram: ask again for this
    # key alone.
  }

  expiration @4 :Float64;
  # The value's expiration (for a dictionary the latest of its entries'; for
  # `omitted` the stored value's); 0 for notFound.

  nearest @5 :List(UInt16);
  # Up to k (20) peers nearest to the key that this node knows, nearest
  # first, never the requester: indices into DhtFindResponse.peers.
}

struct DhtFindResponse {
  peers @0 :List(DhtPeer);
  # Every peer that some result names, once (keys asked together often
  # share nearest peers).

  results @1 :List(DhtFindResult);
  # One per requested key, in order.
}
