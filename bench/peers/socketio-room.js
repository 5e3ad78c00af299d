// An idiomatic Socket.IO 4.8 chat room for parley-bench --fanout: every socket joins "room"; a
// "msg" is broadcast to the room (the sender excluded) and acknowledged. WebSocket transport
// only, no compression: what a chat deployment tuned for throughput would run.
const http = require("http");
const { Server } = require("socket.io");

const server = http.createServer();
const io = new Server(server, { transports: ["websocket"], perMessageDeflate: false, serveClient: false });
io.on("connection", (socket) => {
  socket.join("room");
  socket.on("msg", (text, ack) => {
    socket.to("room").emit("msg", text);
    if (typeof ack === "function") ack();
  });
});
server.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
