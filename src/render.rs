//! Animated GIFs of episodes (`murmur render`): every step of every episode
//! as one frame, bodies as circles sized by their radius, health bars,
//! attack lines, and a caption with the step, the return and the outcome.

use std::path::{Path, PathBuf};

use murmur_train::env::scene::{Body, EpisodeFilm, Role, Scene};
use plotters::prelude::*;
use plotters::style::FontStyle;

/// Frame size and pace of a rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    /// Side of the square map area, pixels.
    pub size: u32,
    /// Frames per second.
    pub fps: u32,
    /// What the caption calls the team ("mappo on battle 3m").
    pub title: String,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self { size: 480, fps: 8, title: String::new() }
    }
}

/// Why a rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Nothing to draw.
    #[error("no episode to render")]
    Empty,
    /// Drawing or writing the GIF failed.
    #[error("cannot write {path}: {msg}")]
    Draw {
        /// The GIF being written.
        path: PathBuf,
        /// What went wrong.
        msg: String,
    },
}

/// Height of the caption above the map, pixels.
const CAPTION: u32 = 44;
/// How long the last frame of an episode stays up, seconds.
const HOLD_S: f32 = 1.5;

const BACKGROUND: RGBColor = RGBColor(250, 250, 247);
const FRAME: RGBColor = RGBColor(200, 200, 195);
const EDGE: RGBColor = RGBColor(90, 90, 90);
const TEAM: RGBColor = RGBColor(31, 119, 180);
const OPPONENT: RGBColor = RGBColor(214, 39, 40);
const LANDMARK: RGBColor = RGBColor(40, 40, 40);
const OBSTACLE: RGBColor = RGBColor(150, 150, 150);
const DEAD: RGBColor = RGBColor(205, 205, 205);
const HEALTH: RGBColor = RGBColor(44, 160, 44);
const HEALTH_LOST: RGBColor = RGBColor(245, 175, 175);
// Fills are solid, lighter shades: GIF frames have 256 colours and
// blended ones quantise badly.
const TEAM_FILL: RGBColor = RGBColor(165, 200, 228);
const OPPONENT_FILL: RGBColor = RGBColor(240, 165, 165);
const WON: RGBColor = RGBColor(44, 140, 44);

/// How many frames [`render_gif`] writes for `films` at `fps`.
pub fn frame_count(films: &[EpisodeFilm], fps: u32) -> usize {
    films.iter().map(|f| f.scenes.len() + hold_frames(fps) - 1).sum()
}

fn hold_frames(fps: u32) -> usize {
    ((HOLD_S * fps as f32).round() as usize).max(1)
}

/// Draws `films` one after the other into an animated GIF at `out`
/// (written beside it first, then renamed: a failed rendering never
/// replaces a good file).
pub fn render_gif(films: &[EpisodeFilm], options: &RenderOptions, out: &Path) -> Result<(), RenderError> {
    if films.iter().all(|f| f.scenes.is_empty()) {
        return Err(RenderError::Empty);
    }
    let tmp = out.with_file_name(format!(
        ".{}.tmp-{}.gif",
        out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    let err = |msg: String| RenderError::Draw { path: out.to_path_buf(), msg };
    let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT);
    let drawn = draw(films, options, &tmp).map_err(err);
    if drawn.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    drawn?;
    std::fs::rename(&tmp, out).map_err(|e| err(e.to_string()))
}

/// Maps world coordinates to pixels of the map area (y up).
struct View {
    origin: [f32; 2],
    scale: f32,
    top: i32,
    size: i32,
}

impl View {
    fn new(bounds: [f32; 4], size: u32) -> Self {
        let extent = (bounds[2] - bounds[0]).max(bounds[3] - bounds[1]).max(1e-6);
        Self { origin: [bounds[0], bounds[1]], scale: size as f32 / extent, top: CAPTION as i32, size: size as i32 }
    }

    fn pixel(&self, p: [f32; 2]) -> (i32, i32) {
        let x = (p[0] - self.origin[0]) * self.scale;
        let y = (p[1] - self.origin[1]) * self.scale;
        (x.round() as i32, self.top + self.size - y.round() as i32)
    }

    fn length(&self, r: f32) -> u32 {
        (r * self.scale).round().max(2.0) as u32
    }
}

fn draw(films: &[EpisodeFilm], options: &RenderOptions, path: &Path) -> Result<(), String> {
    let (w, h) = (options.size, options.size + CAPTION);
    let delay_ms = 1000 / options.fps.max(1);
    let root = BitMapBackend::gif(path, (w, h), delay_ms).map_err(|e| e.to_string())?.into_drawing_area();
    let hold = hold_frames(options.fps);
    for (k, film) in films.iter().enumerate() {
        let view = View::new(Scene::view_of(&film.scenes), options.size);
        let last = film.scenes.len().saturating_sub(1);
        for (t, scene) in film.scenes.iter().enumerate() {
            let repeats = if t == last { hold } else { 1 };
            for _ in 0..repeats {
                root.fill(&BACKGROUND).map_err(|e| e.to_string())?;
                draw_scene(&root, &view, scene).map_err(|e| e.to_string())?;
                let caption = Caption { episode: k + 1, episodes: films.len(), step: t, steps: last, film };
                caption.draw(&root, &options.title, t == last).map_err(|e| e.to_string())?;
                root.present().map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;
type DrawResult = Result<(), DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>>;

fn draw_scene(root: &Area, view: &View, scene: &Scene) -> DrawResult {
    let top = view.top;
    root.draw(&Rectangle::new([(0, top), (view.size - 1, top + view.size - 1)], FRAME.stroke_width(1)))?;
    if let Some([x0, y0, x1, y1]) = scene.bounds {
        let (a, b) = (view.pixel([x0, y1]), view.pixel([x1, y0]));
        root.draw(&Rectangle::new([a, b], EDGE.stroke_width(3)))?;
    }
    // Obstacles and the dead at the bottom, landmarks on top: they are
    // small, and an agent covering one must not hide it.
    let layer = |b: &Body| match (b.role, b.alive) {
        (Role::Obstacle, _) => 0,
        (Role::Landmark, _) => 3,
        (_, false) => 1,
        _ => 2,
    };
    for pass in 0..4 {
        for body in scene.bodies.iter().filter(|b| layer(b) == pass) {
            draw_body(root, view, body)?;
        }
    }
    for shot in &scene.shots {
        let (Some(from), Some(to)) = (scene.bodies.get(shot.from), scene.bodies.get(shot.to)) else { continue };
        let colour = if from.role == Role::Agent { TEAM } else { OPPONENT };
        root.draw(&PathElement::new(vec![view.pixel(from.pos), view.pixel(to.pos)], colour.stroke_width(2)))?;
    }
    for body in scene.bodies.iter().filter(|b| b.alive) {
        if let Some(health) = body.health {
            draw_health(root, view, body, health)?;
        }
    }
    Ok(())
}

fn draw_body(root: &Area, view: &View, body: &Body) -> DrawResult {
    let centre = view.pixel(body.pos);
    let r = view.length(body.radius);
    let colour = match (body.role, body.alive) {
        (_, false) => DEAD,
        (Role::Agent, _) => TEAM,
        (Role::Opponent, _) => OPPONENT,
        (Role::Landmark, _) => LANDMARK,
        (Role::Obstacle, _) => OBSTACLE,
    };
    match body.role {
        Role::Agent | Role::Opponent if body.alive => {
            let fill = if body.role == Role::Agent { TEAM_FILL } else { OPPONENT_FILL };
            root.draw(&Circle::new(centre, r, fill.filled()))?;
            root.draw(&Circle::new(centre, r, colour.stroke_width(2)))
        }
        _ => root.draw(&Circle::new(centre, r, colour.filled())),
    }
}

fn draw_health(root: &Area, view: &View, body: &Body, health: f32) -> DrawResult {
    let (x, y) = view.pixel(body.pos);
    let half = view.length(body.radius).max(6) as i32;
    let top = y - half - 7;
    let filled = x - half + ((2 * half) as f32 * health.clamp(0.0, 1.0)).round() as i32;
    root.draw(&Rectangle::new([(x - half, top), (x + half, top + 3)], HEALTH_LOST.filled()))?;
    root.draw(&Rectangle::new([(x - half, top), (filled, top + 3)], HEALTH.filled()))
}

/// The text above the map.
struct Caption<'a> {
    episode: usize,
    episodes: usize,
    step: usize,
    steps: usize,
    film: &'a EpisodeFilm,
}

impl Caption<'_> {
    fn draw(&self, root: &Area, title: &str, finished: bool) -> DrawResult {
        let font = ("sans-serif", 17).into_font().color(&BLACK);
        let ret = self.film.returns.get(self.step).copied().unwrap_or(0.0);
        let line = format!(
            "episode {} of {}   step {} of {}   return {ret:.2}",
            self.episode, self.episodes, self.step, self.steps
        );
        root.draw(&Text::new(title.to_string(), (8, 4), font.clone()))?;
        root.draw(&Text::new(line, (8, 23), font))?;
        if finished {
            if let Some(won) = self.film.won {
                let (text, colour) = if won { ("won", WON) } else { ("lost", OPPONENT) };
                let x = root.dim_in_pixel().0 as i32 - 60;
                root.draw(&Text::new(text, (x, 12), ("sans-serif", 24).into_font().color(&colour)))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use murmur_train::env::scene::Shot;

    fn unit(pos: [f32; 2], role: Role, health: Option<f32>, alive: bool) -> Body {
        Body { pos, radius: 1.0, role, health, alive }
    }

    /// Frames of a GIF as RGBA pixels.
    fn decode(path: &Path) -> (Vec<Vec<u8>>, (u16, u16)) {
        let mut opts = gif::DecodeOptions::new();
        opts.set_color_output(gif::ColorOutput::RGBA);
        let mut d = opts.read_info(std::fs::File::open(path).unwrap()).unwrap();
        let (w, h) = (d.width(), d.height());
        let mut frames = Vec::new();
        while let Some(f) = d.read_next_frame().unwrap() {
            assert_eq!((f.left, f.top, f.width, f.height), (0, 0, w, h));
            frames.push(f.buffer.to_vec());
        }
        (frames, (w, h))
    }

    fn near(frame: &[u8], width: u16, (x, y): (i32, i32), colour: RGBColor) -> bool {
        let i = 4 * (y as usize * width as usize + x as usize);
        let px = &frame[i..i + 3];
        [colour.0, colour.1, colour.2].iter().zip(px).all(|(a, b)| a.abs_diff(*b) <= 24)
    }

    #[test]
    fn frames_show_each_body_where_the_scene_puts_it() {
        let edges = Some([0.0, 0.0, 30.0, 30.0]);
        let start = Scene {
            bounds: edges,
            bodies: vec![
                unit([10.0, 15.0], Role::Agent, Some(1.0), true),
                unit([20.0, 15.0], Role::Opponent, Some(1.0), true),
            ],
            shots: vec![],
        };
        let end = Scene {
            bounds: edges,
            bodies: vec![
                unit([12.0, 15.0], Role::Agent, Some(1.0), true),
                unit([20.0, 15.0], Role::Opponent, Some(0.25), true),
            ],
            shots: vec![Shot { from: 0, to: 1 }],
        };
        let film = EpisodeFilm { scenes: vec![start.clone(), end.clone()], returns: vec![0.0, 0.5], won: Some(true) };
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("battle.gif");
        let options = RenderOptions { size: 200, fps: 4, title: "test".into() };
        render_gif(std::slice::from_ref(&film), &options, &out).unwrap();

        let (frames, (w, h)) = decode(&out);
        assert_eq!((w, h), (200, 200 + CAPTION as u16));
        assert_eq!(frames.len(), frame_count(std::slice::from_ref(&film), 4));
        assert_eq!(frames.len(), 1 + hold_frames(4));
        let view = View::new(Scene::view_of(&film.scenes), 200);
        // Bodies are filled in their team's colour at their centres; the
        // agent moves between the frames.
        assert!(near(&frames[0], w, view.pixel([10.0, 15.0]), TEAM_FILL));
        assert!(near(&frames[0], w, view.pixel([20.0, 15.0]), OPPONENT_FILL));
        assert!(near(&frames[1], w, view.pixel([12.0, 15.5]), TEAM_FILL));
        assert!(near(&frames[1], w, view.pixel([10.0, 18.0]), BACKGROUND));
        // The opponent's health bar is a quarter green, the rest lost.
        let (x, y) = view.pixel([20.0, 15.0]);
        let half = view.length(1.0).max(6) as i32;
        let bar_y = y - half - 6;
        assert!(near(&frames[1], w, (x - half + 1, bar_y), HEALTH));
        assert!(near(&frames[1], w, (x + half - 1, bar_y), HEALTH_LOST));
        // The shot is a line in the shooter's colour halfway between them.
        let (mx, my) = view.pixel([16.0, 15.0]);
        assert!((-1..=1).any(|d| near(&frames[1], w, (mx, my + d), TEAM)), "no attack line");
        assert!(!(-1..=1).any(|d| near(&frames[0], w, (mx, my + d), TEAM)), "a line before any shot");
    }

    #[test]
    fn a_failed_rendering_leaves_the_previous_file_alone() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("old.gif");
        std::fs::write(&out, b"a good file").unwrap();
        assert!(matches!(render_gif(&[], &RenderOptions::default(), &out), Err(RenderError::Empty)));
        let missing = dir.path().join("no/such/dir/x.gif");
        let film = EpisodeFilm {
            scenes: vec![Scene { bounds: None, bodies: vec![], shots: vec![] }],
            returns: vec![0.0],
            won: None,
        };
        let err = render_gif(&[film], &RenderOptions::default(), &missing).unwrap_err();
        assert!(err.to_string().contains("x.gif"), "{err}");
        assert_eq!(std::fs::read(&out).unwrap(), b"a good file");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "a temporary file was left behind");
    }
}
