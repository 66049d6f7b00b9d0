/**
 * HTTP test fixtures on loopback: {@link org.spindle.testing.http.RangeOrigin} serves images from
 * memory by the Range rules (HEAD, one range, If-Range, tokens, redirects), holds an answer part way
 * when asked, and logs what it served;
 * {@link org.spindle.testing.http.FaultProxy} sits in front of any origin and breaks responses to GETs
 * on request (resets, 503s, a 200 for a 206, a wrong Content-Range, gzip, a new ETag, a stall).
 */
@Export
@Version("1.1.0")
package org.spindle.testing.http;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
