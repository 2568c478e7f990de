<p>${name}</p>
