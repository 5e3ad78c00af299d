// A room server on the `ws` package for parley-bench --fanout: every client is in the room; a
// message is sent to every other client and acknowledged to its sender with "ack".
const { WebSocketServer, WebSocket } = require("ws");

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => {
    for (const client of wss.clients) {
      if (client !== ws && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
    ws.send("ack");
  });
});
wss.on("listening", () => console.log(`listening ${wss.address().port}`));
