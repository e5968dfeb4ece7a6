# SPDX-License-Identifier: Apache-2.0
"""Headless drawing: VTK is asked for its EGL window only where there is no display and no user choice."""
from hemotwin.viz.offscreen import prefer_headless_window


def test_headless_linux_prefers_egl():
    env = {}
    assert prefer_headless_window(env, "linux")
    assert env["VTK_DEFAULT_OPENGL_WINDOW"] == "vtkEGLRenderWindow"


def test_a_display_or_a_user_choice_is_left_alone():
    for env in ({"DISPLAY": ":0"}, {"WAYLAND_DISPLAY": "wayland-0"},
                {"VTK_DEFAULT_OPENGL_WINDOW": "vtkOSOpenGLRenderWindow"}):
        before = dict(env)
        assert not prefer_headless_window(env, "linux")
        assert env == before
    env = {}
    assert not prefer_headless_window(env, "darwin") and env == {}
