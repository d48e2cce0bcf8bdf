-- Spam for a recipient whose domain rejects: a reply code instead of accept (miltertest can compare the
-- reply only in full, and ours carries the log reference: the test checks the text from the log).
dofile(dir .. "/common.lua")
local conn = open_message({ "dan@reject.example" }, "MTREJECT")
send_file(conn, spam)
if mt.getreply(conn) ~= SMFIR_REPLYCODE then error("reject: expected REPLYCODE") end
mt.disconnect(conn)
