# The expert RPC interface: stock Cap'n Proto RPC over a two-party TCP
# connection. The server's bootstrap capability is an `ExpertServer`; every
# method names the expert it is for, so one connection reaches every expert
# that one hm-serve process hosts.
#
# Errors come back as RPC exceptions whose description names the problem:
# unknown expert, wrong number, shape or dtype of tensors, batch too large,
# non-finite values, server shutting down, deadline exceeded (see forward's
# `timeoutMs`).
@0xd6651e58276bddd7;

$import "/capnp/c++.capnp".namespace("hm::wire");

using import "tensor.capnp".Tensor;
using import "tensor.capnp".TensorSchema;

struct ExpertInfo {
  uid @0 :Text;
  # The expert's uid, e.g. "ffn.1.2" (hivemind's uid grammar).

  expertCls @1 :Text;
  # The kind of expert: "ffn", "transformer", "det_dropout", "nop",
  # "nop_delay", or "module" for a TorchScript file.

  inputs @2 :List(TensorSchema);
  # forward's inputs, in order; backward takes these followed by one
  # gradient per output.

  outputs @3 :List(TensorSchema);
  # forward's outputs, in order.

  steps @4 :UInt64;
  # Optimizer steps taken so far (one per backward batch).

  examplesProcessed @5 :UInt64;
  # Rows seen by backward so far.

  maxBatchSize @6 :UInt32;
  # The largest number of rows the server puts in one batch; a request with
  # more rows than this is refused.
}

interface ExpertServer {
  info @0 (uid :Text) -> (info :ExpertInfo);
  # Describe one expert.

  forward @1 (uid :Text, inputs :List(Tensor), timeoutMs :UInt32)
      -> (outputs :List(Tensor));
  # Run the expert on a batch (the first dimension of every input is the
  # batch) without gradients.
  #
  # `timeoutMs` is the call's deadline: how many milliseconds the client
  # will still wait for the answer when it sends the request (rounded up);
  # 0, the default, means no deadline. It is a budget rather than a point in
  # time because the client's and the server's clocks need not agree: the
  # server adds it to its own steady clock when the request arrives (so the
  # request's time on the network is not charged to the server). A call
  # whose deadline has passed before its batch starts is dropped without
  # computing it and fails with "deadline exceeded: the client gave up after
  # N ms; dropped before computing"; once its batch runs it is answered
  # normally. A request without the field (an older or stock client) has no
  # deadline. Added after `inputs`, as parameter ordinal 2: the params
  # struct stays compatible both ways.

  backward @2 (uid :Text, inputs :List(Tensor), gradOutputs :List(Tensor),
               timeoutMs :UInt32)
      -> (gradInputs :List(Tensor));
  # Recompute forward on `inputs` with gradients, backpropagate
  # `gradOutputs` (one per output), return one gradient per input, and take
  # one optimizer step for the batch this request was served in. Inputs that
  # are not floating point get an all-zero gradient. `timeoutMs`: as for
  # forward (parameter ordinal 3); a dropped backward call takes no part in
  # the optimizer step.

  list @3 () -> (uids :List(Text));
  # The uids of every expert this server hosts, sorted.
}
