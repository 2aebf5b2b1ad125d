// The Lightspeed API through @lightspeed/agent-client. Everything the bridge asks of
// the server goes through the object this returns.
import { LightspeedClient } from "@lightspeed/agent-client";
import WebSocket from "ws";

/**
 * @returns {{
 *   sessionStart(p: any): Promise<any>, sessionRead(p: any): Promise<any>,
 *   sessionUpdate(p: any): Promise<any>, runStart(p: any): Promise<any>,
 *   runCancel(p: any): Promise<any>, uploadBlob(bytes: Uint8Array): Promise<string>,
 *   subscribe(sessionId: string, o: any, h: (n: any) => void): {ready: Promise<void>, close(): void},
 *   close(): void
 * }}
 */
export function createLightspeed({ url, apiKey }) {
  return new LightspeedClient({ url, apiKey, WebSocket, webSocketAuth: "header" });
}
