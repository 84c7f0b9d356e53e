// sin and cos of float32 arrays in one pass, written so that GCC vectorizes the loop (no
// branches, no calls): Cody-Waite reduction by pi/2 in three parts, then Cephes' minimax
// polynomials for sinf and cosf on [-pi/4, pi/4], the quadrant applied with selects.
// Accurate to a few float32 ulps for |x| < 2^17 (Point-NN's PosE arguments stay below
// ~10^3); beyond that the reduction loses bits, as any float32 argument does.
#pragma once

#include <cstdint>
#include <cstring>

namespace geo3d {

inline void sincos_block(const float* __restrict__ x, float* __restrict__ s,
                         float* __restrict__ c, int64_t n) {
  constexpr float kTwoOverPi = 0.636619772367581343f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  constexpr float kPiOver2A = 1.5703125f;  // pi/2 = A + B + C, A and B with few bits
  constexpr float kPiOver2B = 4.837512969970703125e-4f;
  constexpr float kPiOver2C = 7.54978995489188216e-8f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float q = (v * kTwoOverPi + kRound) - kRound;
    const float r = ((v - q * kPiOver2A) - q * kPiOver2B) - q * kPiOver2C;
    const float r2 = r * r;
    const float sine = r + r * r2 * (-1.6666654611e-1f + r2 * (8.3321608736e-3f +
                                                             r2 * -1.9515295891e-4f));
    const float cosine = 1.0f - 0.5f * r2 +
                         r2 * r2 * (4.166664568298827e-2f + r2 * (-1.388731625493765e-3f +
                                                                  r2 * 2.443315711809948e-5f));
    const int32_t quadrant = static_cast<int32_t>(q);
    const float sin_base = (quadrant & 1) ? cosine : sine;
    const float cos_base = (quadrant & 1) ? sine : cosine;
    s[i] = (quadrant & 2) ? -sin_base : sin_base;
    c[i] = ((quadrant + 1) & 2) ? -cos_base : cos_base;
  }
}

}  // namespace geo3d
