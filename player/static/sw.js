// Shiur Sync service worker: classes a listener chose to keep play without a network.
//
// The player page's "keep for offline listening" button puts the page, its VTT files, word
// timings, search keys, audio and the site's CSS/JS/fonts into the "shiur-classes" cache.
// Here every GET is tried on the network first (so a deploy or a lecturer's correction is seen
// at once) and answered from that cache when the network fails. Audio is the exception: a kept
// recording is played from the cache, cut to the byte range the media element asks for.
"use strict";

var CACHE = "shiur-classes";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

function fromCache(request) {
  return caches.open(CACHE).then(function (cache) {
    // Static files carry a ?v= version; an older kept copy is better than nothing offline.
    var url = new URL(request.url);
    var loose = url.pathname.indexOf("/static/") === 0;
    return cache.match(request, { ignoreSearch: loose, ignoreVary: true });
  });
}

// A 206 answer cut from a cached full response, for "Range: bytes=a-b" (what seeking sends).
function rangeResponse(request, response) {
  var header = request.headers.get("range");
  var m = header && /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return response;
  return response.blob().then(function (blob) {
    var size = blob.size;
    var start = m[1] === "" ? Math.max(0, size - Number(m[2])) : Number(m[1]);
    var end = m[1] !== "" && m[2] !== "" ? Math.min(Number(m[2]), size - 1) : size - 1;
    if (start >= size || start > end) {
      return new Response(null, { status: 416, headers: { "Content-Range": "bytes */" + size } });
    }
    return new Response(blob.slice(start, end + 1), {
      status: 206,
      headers: {
        "Content-Type": response.headers.get("Content-Type") || "application/octet-stream",
        "Content-Range": "bytes " + start + "-" + end + "/" + size,
        "Content-Length": String(end - start + 1),
        "Accept-Ranges": "bytes",
      },
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) return;
  var path = new URL(request.url).pathname;
  if (/^\/r\/[^/]+\/audio$/.test(path)) {
    // Kept audio from the cache; anything else straight to the network, untouched.
    event.respondWith(caches.open(CACHE).then(function (cache) {
      return cache.match(request.url, { ignoreVary: true });
    }).then(function (hit) {
      return hit ? rangeResponse(request, hit) : fetch(request);
    }));
    return;
  }
  event.respondWith(fetch(request).catch(function (err) {
    return fromCache(request).then(function (hit) {
      if (hit) return hit;
      throw err;
    });
  }));
});
