-- An aborted message is forgotten; the next message on the same connection is decided on its own.
dofile(dir .. "/common.lua")
local conn = open_message({ "erin@example.net" }, "MTABORTED")
check(mt.header(conn, "Subject", "never finished"), "header")
check(mt.abort(conn), "abort")
mt.macro(conn, SMFIC_MAIL, "i", "MTAFTER")
check(mt.mailfrom(conn, "<frank@example.org>"), "mailfrom")
check(mt.rcptto(conn, "<gina@example.net>"), "rcptto")
send_file(conn, ham)
if mt.getreply(conn) ~= SMFIR_ACCEPT then error("abort: expected ACCEPT for the second message") end
mt.disconnect(conn)
