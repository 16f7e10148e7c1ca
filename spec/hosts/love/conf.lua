-- LÖVE host test: headless. No window, graphics or audio modules, so no
-- display and no sound device are needed.
function love.conf(t)
  t.identity = "omnihuman-hosttest"
  t.console = false
  t.window = false
  t.modules.window = false
  t.modules.graphics = false
  t.modules.audio = false
  t.modules.sound = false
  t.modules.video = false
  t.modules.joystick = false
  t.modules.physics = false
  t.modules.touch = false
  t.modules.mouse = false
  t.modules.keyboard = false
end
