// Rotated-box geometry shared by the CPU kernels and (plain CUDA C++) the GPU kernels:
// bird's-eye-view corners, the exact area of the intersection of two rotated rectangles
// (Sutherland-Hodgman clipping of one by the other's four half-planes, in double
// precision and in coordinates centred on the first box, so boxes 70 m from the sensor
// lose no digits), and the containment test of a point.
//
// Boxes are (x, y, z, dx, dy, dz, heading) in the LiDAR frame, z at the centre.
#pragma once

#include <cmath>

#ifdef __CUDACC__
#define GEO3D_HD __host__ __device__ inline
#else
#define GEO3D_HD inline
#endif

namespace geo3d {
namespace boxes {

// The four BEV corners, counter-clockwise, relative to (ox, oy).
template <typename T>
GEO3D_HD void bev_corners(const T* box, double ox, double oy, double* xs, double* ys) {
  const double c = cos(static_cast<double>(box[6]));
  const double s = sin(static_cast<double>(box[6]));
  const double hx = static_cast<double>(box[3]) / 2, hy = static_cast<double>(box[4]) / 2;
  const double cx = static_cast<double>(box[0]) - ox, cy = static_cast<double>(box[1]) - oy;
  const double lx[4] = {hx, -hx, -hx, hx};
  const double ly[4] = {hy, hy, -hy, -hy};
  for (int i = 0; i < 4; ++i) {
    xs[i] = cx + lx[i] * c - ly[i] * s;
    ys[i] = cy + lx[i] * s + ly[i] * c;
  }
}

// Area of the intersection of two convex counter-clockwise quadrilaterals.
GEO3D_HD double quad_intersection_area(const double* ax, const double* ay, const double* bx,
                                       const double* by) {
  // A convex polygon clipped by 4 half-planes has at most 4 + 4 vertices.
  double px[8], py[8], qx[8], qy[8];
  int n = 4;
  for (int i = 0; i < 4; ++i) {
    px[i] = ax[i];
    py[i] = ay[i];
  }
  for (int e = 0; e < 4 && n > 0; ++e) {
    const double x0 = bx[e], y0 = by[e];
    const double ex = bx[(e + 1) % 4] - x0, ey = by[(e + 1) % 4] - y0;
    int m = 0;
    for (int i = 0; i < n; ++i) {
      const int j = (i + n - 1) % n;  // the previous vertex
      const double di = ex * (py[i] - y0) - ey * (px[i] - x0);
      const double dj = ex * (py[j] - y0) - ey * (px[j] - x0);
      const bool in_i = di >= 0, in_j = dj >= 0;
      if (in_i != in_j && m < 8) {
        const double t = dj / (dj - di);
        qx[m] = px[j] + t * (px[i] - px[j]);
        qy[m] = py[j] + t * (py[i] - py[j]);
        ++m;
      }
      if (in_i && m < 8) {
        qx[m] = px[i];
        qy[m] = py[i];
        ++m;
      }
    }
    n = m;
    for (int i = 0; i < n; ++i) {
      px[i] = qx[i];
      py[i] = qy[i];
    }
  }
  double twice = 0;
  for (int i = 0; i < n; ++i) {
    const int k = (i + 1) % n;
    twice += px[i] * py[k] - px[k] * py[i];
  }
  return twice > 0 ? twice / 2 : 0.0;
}

// The BEV intersection area of two boxes, computed around the first box's centre.
template <typename T>
GEO3D_HD double bev_intersection(const T* a, const T* b) {
  const double ox = static_cast<double>(a[0]), oy = static_cast<double>(a[1]);
  // Boxes whose circumscribed circles do not meet cannot overlap.
  const double dx = static_cast<double>(b[0]) - ox, dy = static_cast<double>(b[1]) - oy;
  const double ra = 0.5 * sqrt(static_cast<double>(a[3]) * a[3] + static_cast<double>(a[4]) * a[4]);
  const double rb = 0.5 * sqrt(static_cast<double>(b[3]) * b[3] + static_cast<double>(b[4]) * b[4]);
  if (dx * dx + dy * dy > (ra + rb) * (ra + rb)) return 0.0;
  double ax[4], ay[4], bx[4], by[4];
  bev_corners(a, ox, oy, ax, ay);
  bev_corners(b, ox, oy, bx, by);
  return quad_intersection_area(ax, ay, bx, by);
}

// IoU of two boxes in BEV (three_d false) or in 3D; 0 where the union is empty.
template <typename T>
GEO3D_HD double box_iou(const T* a, const T* b, bool three_d) {
  double inter = bev_intersection(a, b);
  double area_a = static_cast<double>(a[3]) * a[4], area_b = static_cast<double>(b[3]) * b[4];
  if (three_d) {
    const double top = fmin(a[2] + a[5] / 2.0, b[2] + b[5] / 2.0);
    const double bottom = fmax(a[2] - a[5] / 2.0, b[2] - b[5] / 2.0);
    inter *= fmax(top - bottom, 0.0);
    area_a *= a[5];
    area_b *= b[5];
  }
  const double total = area_a + area_b - inter;
  if (!(total > 0)) return 0.0;
  const double iou = inter / total;
  return iou < 0 ? 0.0 : (iou > 1 ? 1.0 : iou);
}

// Whether a point lies in a box, faces included (the nuScenes devkit's rule, as
// geo3d.structures.points_in_boxes).
template <typename P, typename T>
GEO3D_HD bool point_in_box(const P* p, const T* box) {
  const double hz = static_cast<double>(box[5]) / 2;
  const double lz = static_cast<double>(p[2]) - box[2];
  if (lz > hz || lz < -hz) return false;
  const double c = cos(static_cast<double>(box[6])), s = sin(static_cast<double>(box[6]));
  const double dx = static_cast<double>(p[0]) - box[0], dy = static_cast<double>(p[1]) - box[1];
  const double lx = dx * c + dy * s, ly = -dx * s + dy * c;
  return fabs(lx) <= static_cast<double>(box[3]) / 2 && fabs(ly) <= static_cast<double>(box[4]) / 2;
}

}  // namespace boxes
}  // namespace geo3d
