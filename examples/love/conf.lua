function love.conf(t)
  t.identity = "omnihuman-example"
  t.window.title = "omnihuman: press space to make a talking video"
  t.window.width, t.window.height = 720, 360
  t.modules.audio = false -- not needed here; the video is written to a file
  t.modules.sound = false
end
