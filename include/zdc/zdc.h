/* zdc — WebRTC data channels in C. The one header applications include.
 *
 * It gathers the public parts of zdc: error codes, the wire-format codecs (usable on their own
 * by tools and fuzzers), and — as the engine grows — the engine and peer-connection API.
 */
#ifndef ZDC_ZDC_H
#define ZDC_ZDC_H

#include "zdc/error.h"

/* Wire-format codecs (sans-IO). */
#include "zdc/candidate.h"
#include "zdc/dcep.h"
#include "zdc/demux.h"
#include "zdc/sdp.h"
#include "zdc/stun.h"

#endif /* ZDC_ZDC_H */
