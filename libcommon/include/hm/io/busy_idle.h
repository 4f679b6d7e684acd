// BusyIdle: asks the kernel to keep idle CPUs polling instead of halting
// while it lives (PM QoS: 0 written to /dev/cpu_dma_latency, held open).
//
// Why: on a virtual machine whose idle vCPUs halt (cpuidle haltpoll with
// guest polling off), waking a thread on an idle vCPU exits to the
// hypervisor and costs tens of microseconds; an RPC round trip wakes a
// thread four times (client -> server loop -> runtime -> loop -> client);
// hm-bench(1) NOTES has the measurements. The request is for the whole
// machine and burns CPU time while idle; it needs write access to
// /dev/cpu_dma_latency (root).
//
// Threads: any one thread. Ownership: owns the descriptor; the request ends
// when the object is destroyed.
#pragma once

namespace hm::io {

class BusyIdle {
 public:
  // Throws hm::Error naming the device and the reason when the request
  // cannot be made.
  BusyIdle();
  ~BusyIdle();
  BusyIdle(const BusyIdle&) = delete;
  BusyIdle& operator=(const BusyIdle&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace hm::io
