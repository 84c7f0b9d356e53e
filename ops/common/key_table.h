// An open-addressing hash table from non-negative int64 keys (linear voxel keys) to int32
// values, for the CPU kernels that look voxels up by coordinate: no dense grid (a KITTI
// grid at 0.05 m has 90 M cells). Linear probing, capacity a power of two at least twice
// the keys; key and value share one entry, so a lookup touches one cache line.
#pragma once

#include <cstdint>
#include <vector>

namespace geo3d {

class KeyTable {
 public:
  explicit KeyTable(int64_t max_keys) {
    int64_t capacity = 16;
    while (capacity < 2 * max_keys) capacity <<= 1;
    mask_ = capacity - 1;
    entries_.assign(capacity, Entry{-1, 0});
  }

  // The value slot of `key`; `inserted` tells whether it was new (its value is then unset).
  int32_t& find_or_insert(int64_t key, bool& inserted) {
    int64_t slot = first_slot(key);
    while (true) {
      Entry& entry = entries_[slot];
      if (entry.key == key) {
        inserted = false;
        return entry.value;
      }
      if (entry.key == -1) {
        entry.key = key;
        inserted = true;
        return entry.value;
      }
      slot = (slot + 1) & mask_;
    }
  }

  // The value of `key`, or -1 where it is absent (read-only: safe from many threads).
  int32_t find(int64_t key) const {
    int64_t slot = first_slot(key);
    while (true) {
      const Entry& entry = entries_[slot];
      if (entry.key == key) return entry.value;
      if (entry.key == -1) return -1;
      slot = (slot + 1) & mask_;
    }
  }

 private:
  struct Entry {
    int64_t key;
    int32_t value;
  };
  int64_t first_slot(int64_t key) const {
    const uint64_t h = static_cast<uint64_t>(key) * 0x9E3779B97F4A7C15ull;
    return static_cast<int64_t>(h >> 20) & mask_;
  }
  int64_t mask_;
  std::vector<Entry> entries_;
};

}  // namespace geo3d
