// Stands in for the `ws` package in the browser bundle (see vite.config.ts): the
// client only loads `ws` when there is no global WebSocket, which never happens here.
export const WebSocket = globalThis.WebSocket;
export default WebSocket;
