/* zdc — WebRTC data channels in C. The one header applications include.
 *
 * It gathers the public parts of zdc: error codes; the engine (sockets, certificate, I/O loop)
 * and the peer-connection API in front of it, with the table for plugging another
 * implementation behind that API; and the wire-format codecs, usable on their own by tools
 * and fuzzers.
 */
#ifndef ZDC_ZDC_H
#define ZDC_ZDC_H

#include "zdc/error.h"

#include "zdc/engine.h"
#include "zdc/log.h"
#include "zdc/peer.h"
#include "zdc/tuning.h"
#include "zdc/peer_impl.h"
#include "zdc/stats.h"

/* Wire-format codecs (sans-IO). */
#include "zdc/candidate.h"
#include "zdc/dcep.h"
#include "zdc/demux.h"
#include "zdc/sdp.h"
#include "zdc/stun.h"

#endif /* ZDC_ZDC_H */
