/**
 * Preloaded (node --require) into a tool the tests run, so the tool cannot reach anything but loopback:
 * a DNS lookup of any other name and a connection to any other address fail before a packet is sent, and
 * each attempt is written to stderr as `LOOPBACK-ONLY: refused <target>` for the test to find.
 */
const dns = require('node:dns');
const net = require('node:net');

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/i;
const refuse = (target) => {
  process.stderr.write(`LOOPBACK-ONLY: refused ${target}\n`);
  const error = new Error(`loopback-only: refused ${target}`);
  error.code = 'ECONNREFUSED';
  return error;
};

const lookup = dns.lookup;
dns.lookup = function (hostname, options, callback) {
  const done = typeof options === 'function' ? options : callback;
  if (!LOOPBACK.test(String(hostname))) return process.nextTick(() => done(refuse(hostname)));
  return lookup.apply(this, arguments);
};
const promisesLookup = dns.promises.lookup;
dns.promises.lookup = function (hostname, ...rest) {
  if (!LOOPBACK.test(String(hostname))) return Promise.reject(refuse(hostname));
  return promisesLookup.call(this, hostname, ...rest);
};

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const first = args[0];
  const options = Array.isArray(first) ? first[0] : first;
  const host =
    typeof options === 'object' && options !== null ? options.host : typeof args[1] === 'string' ? args[1] : undefined;
  const path =
    typeof options === 'object' && options !== null ? options.path : typeof first === 'string' ? first : undefined;
  if (path === undefined && host !== undefined && !LOOPBACK.test(String(host))) {
    const error = refuse(host);
    process.nextTick(() => this.destroy(error));
    return this;
  }
  return connect.apply(this, args);
};
