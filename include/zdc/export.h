/* ZDC_API marks the declarations of the public API. The library is built with hidden
 * visibility, so the shared library exports exactly these functions and nothing of its
 * internals (checked in CI by scripts/check-exports.sh). */
#ifndef ZDC_EXPORT_H
#define ZDC_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define ZDC_API __attribute__((visibility("default")))
#else
#define ZDC_API
#endif

#endif /* ZDC_EXPORT_H */
