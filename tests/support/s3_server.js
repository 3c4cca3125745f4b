#!/usr/bin/env node
// A local S3 server for the upload tests: s3rver (npm) with its data in --directory, behind a
// front that checks AWS Signature V4 the way S3 does.
//
// Why the front: s3rver 3.7 checks only the access key of a V4 signature ("Signature version
// 4 calculation is unimplemented" in its lib/middleware/authentication.js), so a wrong secret
// would be accepted. The front recomputes every signature with the one secret it knows and
// answers S3's errors itself (403 AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch,
// RequestTimeTooSkewed; 400 XAmzContentSHA256Mismatch when the body's SHA-256 is not the one
// signed); requests that pass go to s3rver unchanged. It holds each request body in memory
// to hash it: test files only.
//
//   node tests/support/s3_server.js --directory DIR --port PORT --bucket NAME
//        [--address 127.0.0.1] [--access-key S3RVER] [--secret-key S3RVER]
//        [--fail-first N] [--stall-first-put 1]
//
// Faults for the retry tests: --fail-first N answers the first N requests 503 SlowDown (as S3
// does under load); --stall-first-put 1 reads the first PUT's whole body, prints
// "stalling PUT <path>" and never answers it (the test then kills the server mid-request).
//
// Prints "s3 server listening on ADDRESS:PORT" when both are up, then one line per request.
'use strict';

const crypto = require('crypto');
const http = require('http');
const path = require('path');

const S3rver = require(path.join(__dirname, '..', '..', 'node_modules', 's3rver'));

function parseArgs(argv) {
  const options = { address: '127.0.0.1', port: 0, accessKey: 'S3RVER', secretKey: 'S3RVER', failFirst: 0, stallFirstPut: 0 };
  const names = {
    '--directory': 'directory', '--port': 'port', '--bucket': 'bucket', '--address': 'address',
    '--access-key': 'accessKey', '--secret-key': 'secretKey', '--fail-first': 'failFirst',
    '--stall-first-put': 'stallFirstPut',
  };
  for (let i = 2; i < argv.length; i += 2) {
    const name = names[argv[i]];
    if (!name || i + 1 >= argv.length) throw new Error(`unknown or incomplete option ${argv[i]}`);
    options[name] = argv[i + 1];
  }
  if (!options.directory || !options.bucket) throw new Error('--directory and --bucket are required');
  options.port = Number(options.port);
  options.failFirst = Number(options.failFirst);
  options.stallFirstPut = Number(options.stallFirstPut);
  return options;
}

const sha256Hex = data => crypto.createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();

// RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone).
const uriEncode = s =>
  encodeURIComponent(s).replace(/[!'()*]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase());

function xmlEscape(s) {
  return String(s).replace(/[<>&'"]/g, c => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]);
}

class S3Failure {
  constructor(status, code, message) {
    Object.assign(this, { status, code, message });
  }
}

// Checks the Authorization header of one request against SigV4; returns an S3Failure or null.
function verifySignature(req, body, options) {
  const authorization = req.headers['authorization'];
  if (!authorization) return new S3Failure(403, 'AccessDenied', 'Anonymous access is not allowed here: sign with AWS Signature Version 4.');
  const match = /^AWS4-HMAC-SHA256 Credential=([^,]+),\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$/.exec(authorization);
  if (!match) return new S3Failure(400, 'AuthorizationHeaderMalformed', 'The authorization header is malformed.');
  const [, credential, signedHeaders, signature] = match;
  const [accessKey, date, region, service, terminator] = credential.split('/');
  if (terminator !== 'aws4_request' || service !== 's3' || !region)
    return new S3Failure(400, 'AuthorizationHeaderMalformed', `The authorization header is malformed; bad credential scope '${credential}'.`);
  if (accessKey !== options.accessKey)
    return new S3Failure(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');

  const amzDate = req.headers['x-amz-date'];
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== date)
    return new S3Failure(403, 'AccessDenied', 'AWS authentication requires a valid x-amz-date header matching the credential scope.');
  const requestTime = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8),
                               +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
  if (Math.abs(Date.now() - requestTime) > 15 * 60 * 1000)
    return new S3Failure(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');

  const payloadHash = req.headers['x-amz-content-sha256'];
  if (!payloadHash) return new S3Failure(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  if (payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== sha256Hex(body))
    return new S3Failure(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.");

  const names = signedHeaders.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date'))
    return new S3Failure(400, 'AuthorizationHeaderMalformed', 'host and x-amz-date must be signed.');
  const url = new URL(req.url, 'http://placeholder');
  const canonicalUri = url.pathname.split('/').map(segment => uriEncode(decodeURIComponent(segment))).join('/');
  const canonicalQuery = [...url.searchParams.entries()]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalHeaders = names.map(name => `${name}:${String(req.headers[name] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalRequest = [req.method, canonicalUri, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac('AWS4' + options.secretKey, date), region), service), 'aws4_request');
  const expected = hmac(signingKey, stringToSign).toString('hex');
  if (!crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(signature)))
    return new S3Failure(403, 'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
  return null;
}

function answerFailure(req, res, failure) {
  const xml = '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${xmlEscape(failure.code)}</Code><Message>${xmlEscape(failure.message)}</Message>` +
    `<Resource>${xmlEscape(req.url)}</Resource><RequestId>s3-server-front</RequestId></Error>`;
  res.writeHead(failure.status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(xml) });
  res.end(req.method === 'HEAD' ? undefined : xml);
}

async function main() {
  const options = parseArgs(process.argv);
  const s3rver = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory: options.directory,
    silent: true,
    configureBuckets: [{ name: options.bucket, configs: [] }],
  });
  const inner = await s3rver.run();

  let requestsToFail = options.failFirst;
  let putsToStall = options.stallFirstPut;
  const front = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', chunk => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (requestsToFail > 0) {
        requestsToFail--;
        console.log(`${req.method} ${req.url} 503 SlowDown (injected)`);
        answerFailure(req, res, new S3Failure(503, 'SlowDown', 'Please reduce your request rate.'));
        return;
      }
      if (req.method === 'PUT' && putsToStall > 0) {
        putsToStall--;
        console.log(`stalling PUT ${req.url} after ${body.length} bytes`);
        return;  // no answer: the client waits until the connection drops
      }
      const failure = verifySignature(req, body, options);
      if (failure) {
        console.log(`${req.method} ${req.url} ${failure.status} ${failure.code}`);
        answerFailure(req, res, failure);
        return;
      }
      const headers = { ...req.headers };
      delete headers['expect'];  // answered here already
      const upstream = http.request({ host: inner.address, port: inner.port, method: req.method, path: req.url, headers },
        answer => {
          console.log(`${req.method} ${req.url} ${answer.statusCode}`);
          res.writeHead(answer.statusCode, answer.headers);
          answer.pipe(res);
        });
      upstream.on('error', err => {
        console.log(`${req.method} ${req.url} 502 ${err.message}`);
        answerFailure(req, res, new S3Failure(502, 'BadGateway', err.message));
      });
      upstream.end(body);
    });
  });
  front.listen(options.port, options.address, () => {
    const { address, port } = front.address();
    console.log(`s3 server listening on ${address}:${port}`);
  });
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
